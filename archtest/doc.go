// Package archtest keeps ARCHITECTURE.md true to the code. Its table of packages is the module's import
// graph, exactly: every package is a row in a layer of the drawing, every import of one rudderhook package
// by another is listed, nothing else is, and no arrow points up. Every function, type and file that the
// hop table (or any line of the page) names exists. The release build reaches no package of dev's. And
// nothing in the repository points at a file outside it, so a clone has every decision the code cites
// (docs/design.md).
//
// It has no code of its own and imports nothing of rudderhook's: it reads the source tree with go/parser
// and go/build.
package archtest
