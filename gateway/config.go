package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultReserveTokens is how many completion tokens a request without
// max_tokens (or max_completion_tokens) is reserved for, unless its model
// sets reserve_tokens.
const DefaultReserveTokens = 1024

// DefaultTimeout is an upstream's timeout when its entry sets none.
const DefaultTimeout = 120 * time.Second

// Config is the --models file: the upstreams and the models clients may
// ask for. docs/gateway.md documents every field. Load reads and checks it.
type Config struct {
	Upstreams map[string]*Upstream `yaml:"upstreams"`
	Models    []*Model             `yaml:"models"`
}

// Upstream is an OpenAI-compatible API keygate forwards to.
type Upstream struct {
	// BaseURL is the API's base, to which "/chat/completions",
	// "/completions" and "/embeddings" are appended
	// ("http://127.0.0.1:8000/v1").
	BaseURL string `yaml:"base_url"`
	// APIKeyEnv names the environment variable holding the upstream's
	// credential, sent as "Authorization: Bearer <value>"; empty sends none.
	APIKeyEnv string `yaml:"api_key_env"`
	// Timeout bounds the wait for response headers and every gap between
	// two stream events, not the length of an answer. 0 is DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`

	name   string
	apiKey string // read from APIKeyEnv at load
}

// Model is one entry of models: a name clients send, or a "prefix/*"
// pattern, routed to an upstream at a price.
type Model struct {
	Name          string  `yaml:"name"`
	Upstream      string  `yaml:"upstream"`
	UpstreamModel string  `yaml:"upstream_model"`
	Pricing       Pricing `yaml:"pricing"`
	// ReserveTokens is the completion tokens reserved for a request that
	// gives no max_tokens; 0 is DefaultReserveTokens.
	ReserveTokens int64 `yaml:"reserve_tokens"`

	upstream *Upstream
}

// Pricing is a model's price: USD per million tokens for prompt and
// completion tokens, or, written as the string "upstream", the cost the
// upstream reports in usage.cost (OpenRouter's usage accounting).
type Pricing struct {
	Prompt, Completion Price
	// Upstream says the upstream's reported cost is charged. Fallback then
	// prices answers that report no cost (fallback_pricing in the file).
	Upstream bool
	Fallback *Pricing
}

// DefaultFallbackPrice prices, for prompt and completion tokens alike, an
// answer of a "pricing: upstream" model that reports no cost, unless the
// model sets fallback_pricing: 10 USD per million tokens.
const DefaultFallbackPrice = Price(10_000_000)

// UnmarshalYAML reads {prompt: 0.50, completion: 1.50} (numbers or numeric
// strings, kept as exact decimals), or the string "upstream", optionally
// as {upstream: true, fallback_pricing: {prompt: …, completion: …}}.
func (p *Pricing) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "upstream" {
			return fmt.Errorf("line %d: pricing: want {prompt, completion} or \"upstream\", not %q", n.Line, n.Value)
		}
		*p = Pricing{Upstream: true}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: pricing: want {prompt, completion} or \"upstream\"", n.Line)
	}
	var errs []error
	var seen []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		seen = append(seen, k)
		switch k {
		case "prompt", "completion":
			pr, err := ParsePrice(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode {
				errs = append(errs, fmt.Errorf("line %d: pricing.%s: %v", v.Line, k, err))
				continue
			}
			if k == "prompt" {
				p.Prompt = pr
			} else {
				p.Completion = pr
			}
		case "upstream":
			if err := v.Decode(&p.Upstream); err != nil {
				errs = append(errs, fmt.Errorf("line %d: pricing.upstream: want true or false", v.Line))
			}
		case "fallback_pricing":
			p.Fallback = &Pricing{}
			if err := v.Decode(p.Fallback); err != nil {
				errs = append(errs, err)
			}
		default:
			errs = append(errs, fmt.Errorf("line %d: pricing: unknown field %q (want prompt, completion, upstream, fallback_pricing)", n.Content[i].Line, k))
		}
	}
	if !p.Upstream && (!slices.Contains(seen, "prompt") || !slices.Contains(seen, "completion")) {
		errs = append(errs, fmt.Errorf("line %d: pricing: want both prompt and completion", n.Line))
	}
	return errors.Join(errs...)
}

// LoadConfig reads and checks the models file at path. getenv reads the
// upstream credentials (os.Getenv in production). The error lists every
// problem found, each with its line or field.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(b, getenv)
}

// ParseConfig is LoadConfig for the file's contents. Unknown fields are
// refused.
func ParseConfig(b []byte, getenv func(string) string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("models file: %w", err)
	}
	if err := c.check(getenv); err != nil {
		return nil, fmt.Errorf("models file: %w", err)
	}
	return &c, nil
}

// check validates c, resolves upstream names and credentials, and reports
// every problem at once.
func (c *Config) check(getenv func(string) string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Models) == 0 {
		bad("models: want at least one model")
	}
	for name, u := range c.Upstreams {
		if u == nil {
			bad("upstreams.%s: empty", name)
			continue
		}
		u.name = name
		if p, err := url.Parse(u.BaseURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" {
			bad("upstreams.%s.base_url: want an http:// or https:// URL without a query", name)
		} else if p.User != nil {
			bad("upstreams.%s.base_url: no user or password in the URL; put the credential in an environment variable named by api_key_env", name)
		}
		u.BaseURL = strings.TrimRight(u.BaseURL, "/")
		if u.Timeout < 0 {
			bad("upstreams.%s.timeout: want a positive duration", name)
		} else if u.Timeout == 0 {
			u.Timeout = DefaultTimeout
		}
		if u.APIKeyEnv != "" {
			if u.apiKey = getenv(u.APIKeyEnv); u.apiKey == "" {
				bad("upstreams.%s.api_key_env: the environment variable %s is empty or unset", name, u.APIKeyEnv)
			}
		}
	}
	names := map[string]bool{}
	for i, m := range c.Models {
		if m == nil {
			bad("models[%d]: empty", i)
			continue
		}
		switch {
		case m.Name == "":
			bad("models[%d].name: required", i)
		case names[m.Name]:
			bad("models[%d].name %q: listed twice", i, m.Name)
		case strings.Contains(strings.TrimSuffix(m.Name, "*"), "*"):
			bad("models[%d].name %q: a pattern is a prefix followed by one final *", i, m.Name)
		}
		names[m.Name] = true
		if m.upstream = c.Upstreams[m.Upstream]; m.upstream == nil {
			bad("models[%d].upstream %q: no such upstream", i, m.Upstream)
		}
		if m.UpstreamModel != "" && strings.HasSuffix(m.UpstreamModel, "*") != m.pattern() {
			bad("models[%d].upstream_model %q: ends with * exactly when name does", i, m.UpstreamModel)
		}
		if m.ReserveTokens < 0 {
			bad("models[%d].reserve_tokens: want >= 0", i)
		} else if m.ReserveTokens == 0 {
			m.ReserveTokens = DefaultReserveTokens
		}
		if !m.Pricing.Upstream && m.Pricing.Fallback != nil {
			bad("models[%d].pricing.fallback_pricing: only for pricing: upstream", i)
		}
	}
	return errors.Join(errs...)
}

func (m *Model) pattern() bool { return strings.HasSuffix(m.Name, "*") }

// upstreamName is the model name sent upstream for the client's name:
// upstream_model when set (for a pattern, its * replaced by what the
// client's * matched), else the client's name unchanged.
func (m *Model) upstreamName(name string) string {
	switch {
	case m.UpstreamModel == "":
		return name
	case m.pattern():
		return strings.TrimSuffix(m.UpstreamModel, "*") + strings.TrimPrefix(name, strings.TrimSuffix(m.Name, "*"))
	}
	return m.UpstreamModel
}

// routes finds models by name: exact names first, then the longest
// matching pattern.
type routes struct {
	cfg      *Config
	exact    map[string]*Model
	patterns []*Model // longest prefix first
}

func newRoutes(c *Config) *routes {
	r := &routes{cfg: c, exact: map[string]*Model{}}
	for _, m := range c.Models {
		if m.pattern() {
			r.patterns = append(r.patterns, m)
		} else {
			r.exact[m.Name] = m
		}
	}
	slices.SortStableFunc(r.patterns, func(a, b *Model) int { return len(b.Name) - len(a.Name) })
	return r
}

// model returns the entry serving name, or nil.
func (r *routes) model(name string) *Model {
	if m := r.exact[name]; m != nil {
		return m
	}
	for _, m := range r.patterns {
		if p := strings.TrimSuffix(m.Name, "*"); strings.HasPrefix(name, p) && len(name) > len(p) {
			return m
		}
	}
	return nil
}
