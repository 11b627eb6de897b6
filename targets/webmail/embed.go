package webmail

import _ "embed"

// SpecYAML is webmail.yaml, the crosstalk spec for this server, so that the
// demo and tests can use the very file users are pointed at.
//
//go:embed webmail.yaml
var SpecYAML []byte
