package keygate

import "github.com/alexedwards/argon2id"

// PasswordHasher hashes and checks login passwords.
type PasswordHasher struct {
	Params *argon2id.Params
}

// DefaultPasswordHasher uses argon2id with 19 MiB of memory, 2 passes and
// one lane: OWASP's minimum recommendation for argon2id, cheap enough for a
// 2-core server to answer logins under load.
var DefaultPasswordHasher = PasswordHasher{Params: &argon2id.Params{
	Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32,
}}

// Hash returns the PHC-format argon2id hash of password.
func (h PasswordHasher) Hash(password string) (string, error) {
	return argon2id.CreateHash(password, h.Params)
}

// Check reports whether password matches hash, in constant time.
func (h PasswordHasher) Check(password, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}
