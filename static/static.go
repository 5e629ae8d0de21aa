// Package static holds the portal's stylesheet, script and icons, embedded
// in the binary and served by the web package under /static/.
package static

import "embed"

// FS holds style.css, app.js and favicon.svg at its root.
//
//go:embed style.css app.js favicon.svg
var FS embed.FS
