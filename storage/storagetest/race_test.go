//go:build race

package storagetest

// raceEnabled: the race detector slows the in-memory SQLite backend about
// tenfold, which the self-tests (the whole suite against each of some fifty
// broken backends) cannot afford; .ci/run runs them without it.
const raceEnabled = true
