// Package web holds keygate's browser pages: html/template files and static
// assets (CSS and one small script), embedded in the binary with embed.
//
// Pages are parsed once, by New, which fails when a page is missing or
// broken. Each page has one typed render method taking a struct; a page is
// rendered into a buffer and written only when rendering succeeded, so a
// template error never leaves half a page behind. Templates use
// html/template's contextual escaping only: there is no helper that marks
// a string as safe HTML.
//
// Pages need no JavaScript and load nothing from other origins, so they
// work under a Content-Security-Policy of default-src 'none' with 'self'
// for styles, images and scripts.
//
// The package knows nothing of HTTP routing, sessions or the service; it
// imports no package of keygate's. The server package builds the page
// structs and sets the security headers.
package web
