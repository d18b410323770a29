package apitype

// Workload identity federation: the token exchange and JWKS in the shapes
// of the official SDK (TokenExchangeRequest, TokenExchangeResponse,
// OAuthErrorResponse, OAuthJwks), and keygate's own federation policy
// objects (/api/v1/federation/policies).

// TokenExchangeRequest is the body of POST /api/v1/oauth/token (RFC 8693
// §2.1), sent as a form; a JSON object with these names is read alike.
type TokenExchangeRequest struct {
	GrantType          string `json:"grant_type"`
	SubjectToken       string `json:"subject_token"`
	SubjectTokenType   string `json:"subject_token_type"`
	RequestedTokenType string `json:"requested_token_type,omitempty"`
	Scope              string `json:"scope,omitempty"`
	FederationPolicyID string `json:"federation_policy_id"`
}

// TokenExchangeResponse answers a successful exchange (RFC 8693 §2.2.1).
type TokenExchangeResponse struct {
	AccessToken     string `json:"access_token"`
	ExpiresIn       int64  `json:"expires_in"` // seconds
	IssuedTokenType string `json:"issued_token_type"`
	Scope           string `json:"scope"`
	TokenType       string `json:"token_type"` // "Bearer"
}

// OAuthErrorResponse is an error of the token endpoint (RFC 6749 §5.2).
type OAuthErrorResponse struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// JWKS is GET /api/v1/oauth/jwks: the keys that verify keygate's access
// tokens (RFC 7517 §5).
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is an EC P-256 public key (RFC 7518 §6.2.1) signing ES256.
type JWK struct {
	Alg string `json:"alg"` // "ES256"
	Crv string `json:"crv"` // "P-256"
	Kid string `json:"kid"`
	Kty string `json:"kty"` // "EC"
	Use string `json:"use"` // "sig"
	X   string `json:"x"`
	Y   string `json:"y"`
}

// CreateFederationPolicyRequest is the body of POST
// /api/v1/federation/policies.
type CreateFederationPolicyRequest struct {
	Issuer      string            `json:"issuer"`
	Audience    string            `json:"audience"`
	Subject     string            `json:"subject,omitempty"`
	Claims      map[string]string `json:"claims,omitempty"`
	TokenTTL    *int64            `json:"token_ttl,omitempty"` // seconds, 60 to 900; absent: 900
	Limit       *float64          `json:"limit,omitempty"`     // USD; absent or null: no limit
	LimitReset  *string           `json:"limit_reset,omitempty"`
	WorkspaceID *string           `json:"workspace_id,omitempty"`
}

// FederationPolicy is a federation policy object, with the limit and
// usage of the key it targets in USD.
type FederationPolicy struct {
	ID          string            `json:"id"`
	WorkspaceID string            `json:"workspace_id"`
	Issuer      string            `json:"issuer"`
	Audience    string            `json:"audience"`
	Subject     *string           `json:"subject"` // null: any
	Claims      map[string]string `json:"claims"`
	TokenTTL    int64             `json:"token_ttl"` // seconds
	KeyHash     string            `json:"key_hash"`
	KeySpending
	CreatedAt string `json:"created_at"`
}

// FederationPolicyResponse wraps one policy.
type FederationPolicyResponse struct {
	Data FederationPolicy `json:"data"`
}

// ListFederationPoliciesResponse wraps the user's policies, oldest first.
type ListFederationPoliciesResponse struct {
	Data []FederationPolicy `json:"data"`
}
