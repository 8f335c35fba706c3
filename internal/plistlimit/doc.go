// Package plistlimit guards property-list decoding of outside input.
//
// The project decodes plists with github.com/micromdm/plist v0.2.2, the
// newest version the module proxy offers here. Its XML parser recurses once
// per nesting level without a bound, and its binary parser follows object
// references without checking for cycles, off-by-one indexes or lengths that
// run past the input, so a few hundred crafted bytes can exhaust the stack or
// memory. (v0.3.0 bounds binary plists but is not available.)
//
// Check validates input before any decoding: its size, the nesting depth and
// the number of values. XML is pre-scanned with encoding/xml's tokenizer,
// which keeps no recursion of its own. Binary plists ("bplist00") have
// their trailer, offset table and every object header checked against the
// input, and their object graph walked without recursion to reject cycles and
// to bound the depth, value count and byte size of the tree the decoder would
// expand (shared references are counted once per use, as the decoder copies
// them). Unmarshal is Check followed by plist.Unmarshal, except that an XML
// dictionary decoded into a nil map[string]any, written as Apple devices
// write them (an Idle, a command result with its nested dictionaries,
// arrays and scalars), is read by a strict one-pass reader that leaves
// everything else to the decoder; a fuzz target checks that it agrees
// with the decoder on all it accepts.
package plistlimit
