package devicetls

import (
	"crypto/tls"

	"golang.org/x/crypto/cryptobyte"
)

// TLS constants read from a ClientHello (RFC 8446, sections 4 and 5).
const (
	recordHandshake      = 22
	recordHeaderLen      = 5
	maxRecordPayload     = 1<<14 + 256 // TLSPlaintext, with TLS 1.2's allowance
	handshakeClientHello = 1

	extensionSupportedGroups = 10
	extensionPreSharedKey    = 41
	extensionPSKModes        = 45
	extensionKeyShare        = 51
	pskModeDHE               = 1
	maxCapturedHello         = 18 << 10 // a hello larger than one record is refused by clients in practice
	maxPSKIdentitiesAccepted = 1
)

// hello is what the key exchange choice needs from a ClientHello.
type hello struct {
	// ticket is the only pre_shared_key identity offered, if exactly one
	// was, with the psk_dhe_ke mode Go's server requires.
	ticket []byte
	// groups are the groups the client supports, shares those it sent
	// key shares for: a group in both needs no HelloRetryRequest.
	groups, shares []tls.CurveID
}

// parseHello reads the ClientHello at the start of raw, the bytes a client
// sent first on a connection (one or more handshake records, possibly cut
// short). ok is false for anything that is not a whole, well-formed
// ClientHello within maxCapturedHello bytes: the caller then keeps the
// default key exchange, so a parse failure can only cost CPU, never
// protection.
func parseHello(raw []byte) (h hello, ok bool) {
	if len(raw) > maxCapturedHello {
		raw = raw[:maxCapturedHello]
	}
	// Reassemble the handshake message from its records.
	var msg []byte
	for {
		if len(msg) >= 4 {
			n := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
			if len(msg) >= 4+n {
				msg = msg[:4+n]
				break
			}
		}
		if len(raw) < recordHeaderLen || raw[0] != recordHandshake {
			return hello{}, false
		}
		n := int(raw[3])<<8 | int(raw[4])
		if n == 0 || n > maxRecordPayload || len(raw) < recordHeaderLen+n {
			return hello{}, false
		}
		msg = append(msg, raw[recordHeaderLen:recordHeaderLen+n]...)
		raw = raw[recordHeaderLen+n:]
	}
	if msg[0] != handshakeClientHello {
		return hello{}, false
	}
	s := cryptobyte.String(msg[4:])
	var sessionID, suites, compression, exts cryptobyte.String
	if !s.Skip(2+32) || // legacy_version, random
		!s.ReadUint8LengthPrefixed(&sessionID) ||
		!s.ReadUint16LengthPrefixed(&suites) ||
		!s.ReadUint8LengthPrefixed(&compression) ||
		!s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return hello{}, false
	}
	var dheMode bool
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return hello{}, false
		}
		// A repeated extension is read twice here; Go refuses the hello.
		switch typ {
		case extensionSupportedGroups:
			var list cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
				return hello{}, false
			}
			for !list.Empty() {
				var group uint16
				if !list.ReadUint16(&group) {
					return hello{}, false
				}
				h.groups = append(h.groups, tls.CurveID(group))
			}
		case extensionKeyShare:
			var shares cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&shares) || !data.Empty() {
				return hello{}, false
			}
			for !shares.Empty() {
				var group uint16
				var key cryptobyte.String
				if !shares.ReadUint16(&group) || !shares.ReadUint16LengthPrefixed(&key) || len(key) == 0 {
					return hello{}, false
				}
				h.shares = append(h.shares, tls.CurveID(group))
			}
		case extensionPSKModes:
			var modes cryptobyte.String
			if !data.ReadUint8LengthPrefixed(&modes) || !data.Empty() {
				return hello{}, false
			}
			for _, m := range modes {
				dheMode = dheMode || m == pskModeDHE
			}
		case extensionPreSharedKey:
			if !exts.Empty() {
				return hello{}, false // RFC 8446 4.2.11: it must be the last extension
			}
			var identities cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&identities) {
				return hello{}, false
			}
			count := 0
			for !identities.Empty() {
				var label cryptobyte.String
				if !identities.ReadUint16LengthPrefixed(&label) || len(label) == 0 || !identities.Skip(4) {
					return hello{}, false
				}
				if count++; count == 1 {
					h.ticket = label
				}
			}
			if count != maxPSKIdentitiesAccepted {
				// With several identities Go may resume from a later one
				// than the one vetted; such a client keeps the default.
				h.ticket = nil
			}
		}
	}
	if !dheMode {
		h.ticket = nil
	}
	return h, true
}
