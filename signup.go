package keygate

// SignupPolicy says who may create an account without the operator's
// command line (keygate serve --signup).
type SignupPolicy string

const (
	// SignupClosed: only an admin (the /admin/users page) or the
	// operator (keygate users create) creates accounts. The default.
	SignupClosed SignupPolicy = "closed"
	// SignupInvite: anyone holding an unused, unexpired invite link made
	// by an admin may create one account with it.
	SignupInvite SignupPolicy = "invite"
	// SignupOpen: anyone may create an account at /signup (keygate serve
	// --dev uses it).
	SignupOpen SignupPolicy = "open"
)

// ParseSignupPolicy parses closed, invite or open, exactly spelled; ""
// is SignupClosed. Errors are EINVALID naming signup.
func ParseSignupPolicy(s string) (SignupPolicy, error) {
	switch p := SignupPolicy(s); p {
	case "":
		return SignupClosed, nil
	case SignupClosed, SignupInvite, SignupOpen:
		return p, nil
	}
	return "", Errorf(EINVALID, "signup must be one of closed, invite, open")
}

// SignupPolicy returns the service's sign-up policy (Config.Signup,
// SignupClosed when unset). Every way of creating an account without the
// operator's command line asks it: the sign-up page, and a first sign-in
// through an identity provider, which may create an account under
// SignupOpen, or when the operator trusts that provider for it
// (UpstreamAccounts.CreateAccounts).
func (s *Service) SignupPolicy() SignupPolicy {
	if s.cfg.Signup == "" {
		return SignupClosed
	}
	return s.cfg.Signup
}
