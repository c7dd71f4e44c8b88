// Package cluster is the membership layer of migrated: which nodes exist,
// whether they are alive, and what each one offers (its QUIC address for
// migrations, load, free memory, how many processes it manages, version).
//
// In a nutshell, it works as follows. Each daemon runs one
// hashicorp/memberlist instance (SWIM gossip over UDP and TCP). Gossip is
// encrypted with AES-GCM when the cluster has a shared key; a node with
// another key can neither join nor be heard. The node's Meta is carried as
// memberlist node metadata (JSON, at most 512 bytes) and re-broadcast when it
// changes. memberlist forgets dead nodes from its member list, so the
// Cluster keeps its own table of members that failed ("dead") or left
// ("left") until they come back, and Members reports all four states.
//
// The package decides nothing and migrates nothing: it answers who is there.
package cluster
