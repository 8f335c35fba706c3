package migrate

import (
	"errors"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_second.sql": {Data: []byte("B")},
		"m/0001_first.sql":  {Data: []byte("A")},
		"m/README":          {Data: []byte("ignored")},
	}
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "first" || ms[1].SQL != "B" || ms[1].Version != 2 {
		t.Fatalf("Load = %+v", ms)
	}
	if p, err := Pending(ms, 1); err != nil || len(p) != 1 || p[0].Version != 2 {
		t.Errorf("Pending(1) = %+v, %v", p, err)
	}
	if p, err := Pending(ms, 2); err != nil || len(p) != 0 {
		t.Errorf("Pending(2) = %+v, %v", p, err)
	}
	if _, err := Pending(ms, 3); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Pending(3) error = %v, want ErrSchemaTooNew", err)
	}
}

func TestLoadRejectsBadSets(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"repeat":    {"m/0001_a.sql": {}, "m/0001_b.sql": {}},
		"no name":   {"m/0001.sql": {}},
		"not a num": {"m/first_a.sql": {}},
		"zero":      {"m/0000_a.sql": {}},
	} {
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("%s: Load accepted it", name)
		}
	}
}
