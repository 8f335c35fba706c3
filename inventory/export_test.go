package inventory

import (
	"time"

	"github.com/openomm/omm/enroll/mdm"
)

// AppleDecoded is Filter.Apple for a result enroll/mdm decoded, as
// Service.IngestAppleDecodedWith reads it.
func (f *Filter) AppleDecoded(d *mdm.Decoded, at time.Time, os OS) (Observation, error) {
	res, err := f.appleDecoded(d)
	if err != nil {
		return Observation{}, err
	}
	return f.appleObservation(res, at, os)
}
