package configs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFields: data.fields from a file, from the one-line environment form, the old
// data.transforms with a deprecation warning, and one-line errors for what is wrong.
func TestFields(t *testing.T) {
	file := func(body string) string {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, body string
		env        []string
		want       []Field
		warn, err  string
	}{
		{"default", "", nil, StudyFields(), "", ""},
		{"file", "data:\n  fields:\n    - {name: T, transform: log10}\n    - {name: Mcdm, transform: asinh}\n", nil,
			[]Field{{"T", "log10"}, {"Mcdm", "asinh"}}, "", ""},
		{"environment", "", []string{"CAMELSVAE_DATA_FIELDS=Mtot:log10, Vcdm:none,HI"}, []Field{{"Mtot", "log10"}, {"Vcdm", "none"}, {"HI", "log10"}}, "", ""},
		{"old transforms", "data:\n  transforms: {mgas: asinh, vgas: none}\n", nil,
			[]Field{{"Mgas", "asinh"}, {"Vgas", "none"}, {"B", "log10"}}, "data.transforms is deprecated: it is read as data.fields: [{name: Mgas, transform: asinh}", ""},
		{"both", "data:\n  transforms: {mgas: asinh}\n  fields: [{name: T, transform: log10}]\n", nil, nil, "", "both set"},
		{"unknown name", "data:\n  fields: [{name: Mgass, transform: log10}]\n", nil, nil, "", `data.fields[0].name: unknown CMD field "Mgass"`},
		{"twice", "data:\n  fields: [{name: T, transform: log10}, {name: T, transform: none}]\n", nil, nil, "", "data.fields[1].name: T is listed twice"},
		{"transform", "data:\n  fields: [{name: T, transform: log}]\n", nil, nil, "", "data.fields[0].transform"},
		{"empty", "data:\n  fields: []\n", nil, nil, "", "data.fields: must list at least one field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.body != "" {
				path = file(tc.body)
			}
			cfg, warn, err := Load(path, nil, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want a one-line error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.Data.Fields, tc.want) {
				t.Errorf("fields %v, want %v", cfg.Data.Fields, tc.want)
			}
			if got := strings.Join(warn, "\n"); tc.warn == "" && got != "" || !strings.Contains(got, tc.warn) {
				t.Errorf("warnings %q, want %q", got, tc.warn)
			}
		})
	}
}
