// Package catalog owns the private app store: App Store, in-house and Play
// apps, their assignment to groups, each user's store view, and the install
// state of every app on every device, including detection of unmanaged copies.
package catalog
