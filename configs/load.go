package configs

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix prefixes every environment override: CAMELSVAE_TRAIN_BATCH=8 sets train.batch.
const EnvPrefix = "CAMELSVAE"

// Load resolves a run config with precedence overrides (the command line's flags, by dotted
// key) > environment (CAMELSVAE_SECTION_KEY) > the YAML file at path (none when "") >
// Default. Unknown keys in the file are an error, and so is any invalid value; both name the
// key. It also returns one warning per CAMELSVAE_* variable of environ that is neither a
// config key nor one of ProgramEnv, which would otherwise be ignored silently.
func Load(path string, overrides map[string]string, environ []string) (Config, []string, error) {
	defaults, err := Flatten(Default())
	if err != nil {
		return Config{}, nil, err
	}
	keys := envNames(defaults)
	cfg, warn, err := load(path, overrides, environ, defaults, keys)
	return cfg, append(warn, envWarnings(environ, keys)...), err
}

// EnvWarnings are Load's warnings about environ alone.
func EnvWarnings(environ []string) []string {
	defaults, err := Flatten(Default())
	if err != nil {
		return nil
	}
	return envWarnings(environ, envNames(defaults))
}

// deprecatedKeys are file keys that the schema no longer lists but Load still reads.
var deprecatedKeys = []string{"data.transforms.mgas", "data.transforms.vgas", "data.transforms.b"}

// load does Load's work once the defaults and env names are known; it returns the
// deprecation warnings.
func load(path string, overrides map[string]string, environ []string, defaults map[string]any, keys map[string]string) (Config, []string, error) {
	cfg, err := decode(path, overrides, environ, defaults, keys)
	if err != nil {
		return cfg, nil, err
	}
	warn, err := migrate(&cfg)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil && path != "" {
		err = fmt.Errorf("config file %s: %w", path, err)
	}
	return cfg, warn, err
}

// migrate maps the old data.transforms onto data.fields, with a warning; setting both is an
// error.
func migrate(cfg *Config) ([]string, error) {
	t := cfg.Data.Transforms
	if t == (Transforms{}) {
		return nil, nil
	}
	if !slices.Equal(cfg.Data.Fields, StudyFields()) {
		return nil, errors.New("data.transforms and data.fields are both set: data.transforms is the old form of data.fields, keep data.fields")
	}
	for i, v := range []string{t.Mgas, t.Vgas, t.B} {
		if v != "" {
			cfg.Data.Fields[i].Transform = v
		}
	}
	cfg.Data.Transforms = Transforms{}
	var parts []string
	for _, f := range cfg.Data.Fields {
		parts = append(parts, fmt.Sprintf("{name: %s, transform: %s}", f.Name, f.Transform))
	}
	return []string{"data.transforms is deprecated: it is read as data.fields: [" + strings.Join(parts, ", ") + "]"}, nil
}

// decode reads the file, the environment and the overrides into a Config.
func decode(path string, overrides map[string]string, environ []string, defaults map[string]any, keys map[string]string) (Config, error) {
	var cfg Config
	v := viper.New()
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
		// Unknown keys: read the file alone and compare its leaves with the schema's.
		fv := viper.New()
		fv.SetConfigFile(path)
		fv.SetConfigType("yaml")
		if err := fv.ReadInConfig(); err != nil {
			return cfg, fmt.Errorf("config file %s: %s", path, oneLine(err))
		}
		var unknown []string
		for _, k := range fv.AllKeys() {
			if _, ok := defaults[k]; !ok && !slices.Contains(deprecatedKeys, k) {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return cfg, fmt.Errorf("config file %s: %s", path, unknownKey(unknown[0], fv.Get(unknown[0]), defaults))
		}
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return cfg, fmt.Errorf("config file %s: %s", path, oneLine(err))
		}
	}
	// Env: every key has a default, so every key can come from CAMELSVAE_SECTION_KEY.
	env := map[string]string{}
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix+"_") {
			env[k] = val
		}
	}
	for name, k := range keys {
		if val, ok := env[name]; ok {
			v.Set(k, val) // below flags, which are applied next
		}
	}
	for key, val := range overrides {
		v.Set(key, val)
	}
	if err := v.UnmarshalExact(&cfg, withIntCheck); err != nil {
		return cfg, fmt.Errorf("config: %s", decodeMessage(err))
	}
	return cfg, nil
}

// unknownKey says what is wrong with a file key that is not in the schema: a value where a
// section belongs (data: 5), a section where a value belongs, or a key that does not exist.
func unknownKey(key string, val any, defaults map[string]any) string {
	var inSection []string
	for k := range defaults {
		if strings.HasPrefix(k, key+".") {
			inSection = append(inSection, k)
		}
	}
	if len(inSection) > 0 {
		sort.Strings(inSection)
		return fmt.Sprintf("%s must be a section (a mapping of keys such as %s), got %s", key, inSection[0], yamlValue(val))
	}
	for k := range defaults {
		if strings.HasPrefix(key, k+".") {
			return fmt.Sprintf("%s is a single value, not a section (found %s)", k, key)
		}
	}
	return fmt.Sprintf("unknown key %q (see configs/config.go for the schema)", key)
}

// yamlValue shows a value as YAML writes it, on one line.
func yamlValue(v any) string {
	if v == nil {
		return "null"
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// ProgramEnv are the program's (and its tests') CAMELSVAE_* variables that are not config
// keys: the runtime library (onnx.EnvLibrary), the fault points (fault.Env) and test knobs.
var ProgramEnv = []string{"CAMELSVAE_ORT_LIB", "CAMELSVAE_DUMP_GRAPHS", "CAMELSVAE_TEST_PROVIDER", "CAMELSVAE_FAULT",
	"CAMELSVAE_TEST_MAIN", "CAMELSVAE_EXPECT_CUDA", "CAMELSVAE_PROFILE", "CAMELSVAE_TEST_CORE_OUT"}

// envNames maps each config key's variable (CAMELSVAE_TRAIN_BATCH) to its key (train.batch).
func envNames(defaults map[string]any) map[string]string {
	out := make(map[string]string, len(defaults))
	for k := range defaults {
		out[EnvPrefix+"_"+strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(k))] = k
	}
	return out
}

// envWarnings reports each CAMELSVAE_* variable of environ that is neither a config key
// (keys, from envNames) nor one of ProgramEnv: a typo there would otherwise be ignored silently.
// It names the closest known variable, or the keys of the section the name starts with.
func envWarnings(environ []string, keys map[string]string) []string {
	known := map[string]bool{}
	for name := range keys {
		known[name] = true
	}
	for _, name := range ProgramEnv {
		known[name] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix+"_") || known[name] || seen[name] {
			continue
		}
		seen[name] = true
		msg := fmt.Sprintf("%s is neither a config key nor a camelsvae variable; it is ignored", name)
		if hint := envHint(name, known, keys); hint != "" {
			msg += " (" + hint + ")"
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}

// envHint suggests the known variable closest to name (a few edits away), or else lists
// the keys of the config section that name starts with.
func envHint(name string, known map[string]bool, keys map[string]string) string {
	suffix := strings.TrimPrefix(name, EnvPrefix+"_")
	best, bestD := "", math.MaxInt
	for k := range known {
		d := editDistance(suffix, strings.TrimPrefix(k, EnvPrefix+"_"))
		if d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	if bestD <= max(2, len(suffix)/4) {
		return "did you mean " + best + "?"
	}
	section, _, _ := strings.Cut(suffix, "_")
	var inSection []string
	for n, k := range keys {
		if sec, _, ok := strings.Cut(k, "."); ok && strings.EqualFold(sec, section) {
			inSection = append(inSection, strings.TrimPrefix(n, EnvPrefix+"_"+section+"_"))
		}
	}
	if len(inSection) == 0 {
		return ""
	}
	sort.Strings(inSection)
	return fmt.Sprintf("%s_%s_ takes %s", EnvPrefix, section, strings.Join(inSection, ", "))
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// intError is a number that an integer key cannot hold (see intHook).
type intError struct{ msg string }

func (e *intError) Error() string { return e.msg }

// intHook refuses a number that does not fit the integer it decodes into: mapstructure
// would truncate 16.5 to 16 and wrap 1e23 to -9223372036854775808. Strings (from the
// environment) are parsed the same way, so CAMELSVAE_TRAIN_EPOCHS=1e3 means 1000.
var intHook mapstructure.DecodeHookFuncType = func(_, to reflect.Type, data any) (any, error) {
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
	default:
		return data, nil
	}
	limit := math.Ldexp(1, to.Bits()-1) // 2^(bits-1): the first value that does not fit
	checkFloat := func(f float64, shown string) (any, error) {
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f):
			return nil, &intError{fmt.Sprintf("%s is not an integer", shown)}
		case f >= limit || f < -limit:
			return nil, &intError{fmt.Sprintf("%s does not fit in an integer", shown)}
		}
		return int64(f), nil
	}
	switch v := data.(type) {
	case float64:
		return checkFloat(v, strconv.FormatFloat(v, 'g', -1, 64))
	case float32:
		return checkFloat(float64(v), strconv.FormatFloat(float64(v), 'g', -1, 32))
	case uint, uint64, uint32:
		if u := reflect.ValueOf(v).Uint(); float64(u) >= limit {
			return nil, &intError{fmt.Sprintf("%d does not fit in an integer", u)}
		}
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return data, nil
		}
		i, err := strconv.ParseInt(s, 0, to.Bits())
		if err == nil {
			return i, nil
		}
		if errors.Is(err, strconv.ErrRange) {
			return nil, &intError{fmt.Sprintf("%s does not fit in an integer", s)}
		}
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil {
			return checkFloat(f, s)
		}
		return nil, &intError{fmt.Sprintf("%q is not an integer", s)}
	}
	return data, nil
}

// withIntCheck runs intHook and fieldsHook before viper's own decode hooks.
func withIntCheck(c *mapstructure.DecoderConfig) {
	c.DecodeHook = mapstructure.ComposeDecodeHookFunc(intHook, fieldsHook, c.DecodeHook)
}

// fieldsHook reads data.fields from the one-line form an environment variable or a flag
// gives: "Mgas:log10,Vgas:asinh,B:log10" (a field without ":transform" gets log10).
func fieldsHook(from, to reflect.Type, data any) (any, error) {
	s, ok := data.(string)
	if !ok || from.Kind() != reflect.String || to != reflect.TypeFor[[]Field]() {
		return data, nil
	}
	var out []map[string]any
	for _, part := range strings.Split(s, ",") {
		name, tr, found := strings.Cut(strings.TrimSpace(part), ":")
		if !found {
			tr = "log10"
		}
		if name == "" {
			return nil, fmt.Errorf("%q: want NAME:TRANSFORM,... such as Mgas:log10,Vgas:asinh,B:log10", s)
		}
		out = append(out, map[string]any{"name": name, "transform": tr})
	}
	return out, nil
}

// decodeMessage folds a decoding error into one line, each failure as "key: what".
func decodeMessage(err error) string {
	var parts []string
	var walk func(err error)
	walk = func(err error) {
		if de, ok := err.(*mapstructure.DecodeError); ok {
			inner := de.Unwrap()
			if _, nested := inner.(*mapstructure.DecodeError); !nested {
				if _, joined := inner.(interface{ Unwrap() []error }); !joined {
					parts = append(parts, de.Name()+": "+oneLine(inner))
					return
				}
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		default:
			parts = append(parts, oneLine(err))
		}
	}
	walk(err)
	return strings.Join(parts, "; ")
}

// oneLine folds a multi-line library error into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
