// Package daemon is the core of migrated: it wires the cluster membership,
// the local API and (as they land) migrations together. cmd/migrated only
// parses flags and calls Run.
//
// In a nutshell: Run validates the configuration, takes an exclusive lock
// on the state directory, starts gossip (failing if the port is taken or no
// join address answers), then serves the API on a unix socket until its
// context ends, and finally leaves the cluster and removes the socket.
// Every failure on the way undoes what was done before it.
package daemon
