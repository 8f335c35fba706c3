// Package amapi holds what the SDK needs of the Android Management API: the
// Policy resource as we emit it (only the fields we set, never deprecated,
// output-only or *_UNSPECIFIED values), the few calls the work-profile path
// makes (behind the Provider interface, so that tests run against Fake), and
// the Command resource.
//
// Google's generated client is deliberately not used: its dependency graph
// is large. The types here are checked against Google's discovery document
// (testdata/androidmanagement-api.json) by this package's tests, and
// [Validate] checks any request body against it at run time (the document
// is linked only into programs that call it). Package amapi/amapitest is a
// local stand-in for the whole service, for tests and demonstrations.
package amapi
