// Package auth owns sign-in for the agent app: resolving a site name to its
// org, the pluggable user Directory and the built-in one, password hashing,
// multi-factor authentication, the agent PIN, sessions and throttling.
//
// Orgs themselves are stored through the storage package, because every other
// record is scoped by one; this package owns how a person finds theirs.
package auth
