// Package docrefs holds the test that keeps the repository self-contained:
// every document that code or docs cite is in the repository, every
// markdown link resolves (anchors included), every section cited by name
// exists, and nothing cites a ticket or a path outside the repository.
package docrefs
