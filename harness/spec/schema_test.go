package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/invopop/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schemaFile is the JSON Schema of a spec, for editors: generated from the
// Go types by TestSchemaInSync and committed, so that a change to the types
// fails the test until the file is regenerated with -update.
const schemaFile = "spec.schema.json"

const schemaID = "https://github.com/crosstalk/crosstalk/harness/spec/spec.schema.json"

// generateSchema reflects the spec's Go types, their doc comments becoming
// the descriptions an editor shows. What the types cannot say (which
// fields are required, the allowed words, the duration syntax) is added
// here, from the same rules Validate applies.
func generateSchema(t *testing.T) []byte {
	t.Helper()
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true, // required lists are set below
		Mapper: func(rt reflect.Type) *jsonschema.Schema {
			if rt == reflect.TypeFor[time.Duration]() {
				return &jsonschema.Schema{Type: "string", Pattern: `^\s*([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+\s*$`,
					Description: `A duration with a unit, such as "5s" or "250ms".`}
			}
			return nil
		},
	}
	require.NoError(t, r.AddGoComments("github.com/crosstalk/crosstalk/harness/spec", "./"))
	s := r.Reflect(&Spec{})
	s.ID = schemaID
	s.Title = "crosstalk target spec"
	defs := s.Definitions
	require.Contains(t, defs, "Spec")
	required := map[string][]string{
		// An extract needs a var except as login.token, so it has none.
		"Spec": {"base_url", "users", "login", "requests"}, "Request": {"name", "path"}, "Login": {"type"},
		"User": {"login"}, "Pattern": {"count", "login"},
	}
	for name, fields := range required {
		require.Contains(t, defs, name)
		defs[name].Required = fields
	}
	enum := func(def, field string, words ...string) {
		p, ok := defs[def].Properties.Get(field)
		require.True(t, ok, "%s.%s", def, field)
		for _, w := range words {
			p.Enum = append(p.Enum, w)
		}
	}
	enum("Login", "type", LoginForm, LoginJSON, LoginBasic, LoginBearer, LoginNone)
	enum("Login", "session", SessionCookie, SessionToken)
	enum("Request", "action", ActionRead, ActionWrite, ActionLogin, ActionLogout)
	out, err := json.MarshalIndent(s, "", "  ")
	require.NoError(t, err)
	return append(out, '\n')
}

// TestSchemaInSync fails when the spec's types and the committed schema
// disagree; go test ./harness/spec -run TestSchemaInSync -update rewrites it.
func TestSchemaInSync(t *testing.T) {
	got := generateSchema(t)
	if *update {
		require.NoError(t, os.WriteFile(schemaFile, got, 0o644))
	}
	want, err := os.ReadFile(schemaFile)
	require.NoError(t, err, "missing %s; run go test ./harness/spec -run TestSchemaInSync -update", schemaFile)
	require.Equal(t, string(want), string(got), "%s is out of date with the spec's Go types; rerun with -update", schemaFile)
}

func compileSchema(t *testing.T) *validator.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	require.NoError(t, err)
	defer f.Close()
	doc, err := validator.UnmarshalJSON(f)
	require.NoError(t, err)
	c := validator.NewCompiler()
	require.NoError(t, c.AddResource(schemaID, doc))
	sch, err := c.Compile(schemaID)
	require.NoError(t, err)
	return sch
}

// asJSONValue reads a YAML or JSON spec the way the schema sees it.
func asJSONValue(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	js, err := yaml.YAMLToJSON(data)
	require.NoError(t, err)
	v, err := validator.UnmarshalJSON(bytes.NewReader(js))
	require.NoError(t, err)
	return v
}

// TestSchemaAcceptsTheSpecsWeShip: every good spec of the tests and every
// spec under targets/ is valid against the schema, so an editor never
// flags a spec that crosstalk loads.
func TestSchemaAcceptsTheSpecsWeShip(t *testing.T) {
	testEnv(t)
	sch := compileSchema(t)
	paths, err := filepath.Glob("testdata/good/*.yaml")
	require.NoError(t, err)
	more, err := filepath.Glob("../../targets/*/*.yaml")
	require.NoError(t, err)
	json, err := filepath.Glob("testdata/good/*.json")
	require.NoError(t, err)
	paths = append(append(paths, more...), json...)
	require.NotEmpty(t, more)
	var checked []string
	for _, p := range paths {
		if _, err := Load(p); err != nil {
			continue // not a spec (a config of a target), or one that needs its environment
		}
		assert.NoError(t, sch.Validate(asJSONValue(t, p)), p)
		checked = append(checked, filepath.Base(p))
	}
	t.Logf("valid against the schema: %s", strings.Join(checked, ", "))
	assert.Subset(t, checked, []string{"list.yaml", "pattern.yaml", "csv.yaml", "spec.json", "webmail.yaml"})
}

// TestSchemaRejectsWhatLoadRejects: the schema catches the mistakes an
// editor can see without running anything.
func TestSchemaRejectsWhatLoadRejects(t *testing.T) {
	sch := compileSchema(t)
	for _, name := range []string{"unknown_field.yaml", "unknown_nested_field.yaml", "unknown_login_type.yaml", "bad_action.yaml"} {
		p := filepath.Join("testdata", "bad", name)
		_, err := Load(p)
		require.Error(t, err, p)
		assert.Error(t, sch.Validate(asJSONValue(t, p)), p)
	}
	var doc map[string]any
	require.NoError(t, json.Unmarshal(generateSchema(t), &doc))
	assert.True(t, strings.Contains(string(generateSchema(t)), "is prefixed to every request path"), "doc comments become descriptions")
}
