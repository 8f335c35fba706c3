package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// maxReportValues bounds the number of JSON values in an Android report.
const maxReportValues = 1 << 16

// Android parses an Android status report collected at at and returns what
// the contract lets the organization keep. The report is JSON in the shape
// of the Android Management API Device resource (hardwareInfo,
// softwareInfo, memoryInfo, deviceSettings, securityPosture,
// applicationReports); the agent of the legacy modes sends the same shape.
//
// managedApps says whether the reported apps belong to the organization:
// true for a work profile (the report covers the managed profile only) or a
// fully managed device; false for the legacy modes, whose reports list the
// user's own apps, which are then kept as identifier and name only.
//
// Input over the size or nesting limit, or not a JSON object, yields
// ErrReport.
func (f *Filter) Android(data []byte, at time.Time, managedApps bool) (Observation, error) {
	if len(data) > f.maxSize {
		return Observation{}, fmt.Errorf("%w: %d bytes, limit %d", ErrReport, len(data), f.maxSize)
	}
	if err := checkJSON(data, maxReportDepth, maxReportValues); err != nil {
		return Observation{}, fmt.Errorf("%w: %w", ErrReport, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var report map[string]any
	if err := dec.Decode(&report); err != nil {
		return Observation{}, fmt.Errorf("%w: %w", ErrReport, err)
	}
	if report == nil {
		return Observation{}, fmt.Errorf("%w: not a JSON object", ErrReport)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Observation{}, fmt.Errorf("%w: data after the JSON object", ErrReport)
	}
	o := Observation{Command: "android", At: at}
	for k, v := range report {
		switch {
		case k == "applicationReports":
			o.Installed = f.androidApps(&o.Dropped, v, managedApps)
			if o.Installed == nil {
				o.Installed = []App{}
			}
		case f.l.sections[k]:
			m, ok := v.(map[string]any)
			if !ok {
				o.Dropped.Malformed++
				continue
			}
			for sk, sv := range m {
				path := k + "." + sk
				a, ok := f.l.android[path]
				if !ok {
					f.dropAndroid(&o.Dropped, path)
					continue
				}
				val, ok := convert(a, sv, a.AndroidScale, at)
				if !ok {
					o.Dropped.Malformed++
					continue
				}
				o.Values = append(o.Values, val)
			}
		default:
			f.dropAndroid(&o.Dropped, k)
		}
	}
	return o, nil
}

func (f *Filter) dropAndroid(d *Dropped, path string) {
	if f.l.forbidDroid[path] {
		d.forbidden(path)
		return
	}
	d.Unknown++
}

func (f *Filter) androidApps(d *Dropped, v any, managed bool) []App {
	list, ok := v.([]any)
	if !ok {
		d.Malformed++
		return nil
	}
	apps := make([]App, 0, len(list))
	seen := map[string]bool{}
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			d.Malformed++
			continue
		}
		var a App
		for k, v := range m {
			switch k {
			case "packageName":
				a.Identifier = text(v)
			case "displayName":
				a.Name = text(v)
			case "versionName":
				a.Version = text(v)
			case "state":
				a.State = text(v)
			default:
				f.dropAndroid(d, "applicationReports."+k)
			}
		}
		if a.State == "REMOVED" || seen[a.Identifier] {
			continue
		}
		if managed {
			a.Managed = true
		} else {
			if a.Version != "" || a.State != "" {
				d.Details++
			}
			a.Version, a.State = "", ""
		}
		if a.Validate() != nil {
			d.Malformed++
			continue
		}
		seen[a.Identifier] = true
		apps = append(apps, a)
	}
	return apps
}

// checkJSON rejects input nested deeper than maxDepth or holding more than
// maxValues values, before anything is decoded. The tokenizer keeps no
// recursion of its own.
func checkJSON(data []byte, maxDepth, maxValues int) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth, values := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if depth != 0 || values == 0 {
				return errors.New("truncated or empty JSON")
			}
			return nil
		}
		if err != nil {
			return err
		}
		values++
		if values > maxValues {
			return fmt.Errorf("more than %d JSON values", maxValues)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > maxDepth {
				return fmt.Errorf("JSON nested deeper than %d levels", maxDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}
