package main

import (
	"bytes"
	"encoding/json"
)

// jsonUnmarshalStrict rejects unknown fields so a sample with a typo fails loudly.
func jsonUnmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
