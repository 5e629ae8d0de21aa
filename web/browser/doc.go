// Package browser holds the portal's end-to-end tests: they start the real
// portal in-process (store, guard engine, scheduler, outbox over an
// in-process SMTP server, an LDIF source) and drive it with a headless
// Chromium through chromedp, clicking as an admin would, with JavaScript on
// and off, and by keyboard alone.
//
// The package has no code outside its tests. The tests need Chromium
// (/usr/bin/chromium or chromium on PATH): without it they skip, or fail
// when CI=true. They write screenshots of the main pages to .screenshots/ at
// the repository root, or to the directory named by SYNCGUARD_SCREENSHOTS
// (relative to the repository root), e.g. static/screenshots.
package browser
