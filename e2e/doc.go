// Package e2e holds end-to-end tests that run the real daemons in a lab of
// hosts on this machine: live migration between hosts and its failure
// cases. It has no code of its own.
package e2e
