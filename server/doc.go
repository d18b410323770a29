// Package server is keygate's HTTP layer: routing, request decoding,
// authentication, attribution, CORS and the error wrapper for the API under
// /api/v1, and the browser routes (/auth, login, consent) on a separate mux
// with CSRF protection and strict headers.
//
// Handlers parse each request once into a typed value, call the
// keygate.Service and return an error; one wrapper turns errors into
// {"error":{"code":N,"message":"..."}}. It imports keygate, apitype and web,
// never a storage package.
package server
