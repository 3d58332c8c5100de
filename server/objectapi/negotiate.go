package objectapi

import (
	"mime"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// shape is the representation a client asked for.
type shape int

const (
	shapeObject   shape = iota // the objects themselves
	shapeTable                 // a meta.k8s.io Table (kubectl's server-side printing)
	shapeMetadata              // PartialObjectMetadata(List)
)

// format is a negotiated representation. metaVersion is the meta.k8s.io version of a Table
// or PartialObjectMetadata, the one the client named.
type format struct {
	shape         shape
	metaVersion   string
	includeObject metav1.IncludeObjectPolicy
}

// negotiate picks the first representation in the Accept header that is served: JSON as an
// object, a Table or PartialObjectMetadata. Protobuf and YAML are not served; a client that
// offers JSON as well (kubectl always does) gets JSON.
func negotiate(accept, includeObject string) (format, error) {
	f, ok := pickFormat(accept)
	if !ok {
		return format{}, notAcceptable(accept)
	}
	if f.shape == shapeTable {
		switch p := metav1.IncludeObjectPolicy(includeObject); p {
		case "":
			f.includeObject = metav1.IncludeMetadata
		case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
			f.includeObject = p
		default:
			return format{}, apierrors.NewBadRequest(`includeObject must be one of "None", "Metadata" or "Object"`)
		}
	}
	return f, nil
}

func pickFormat(accept string) (format, bool) {
	if strings.TrimSpace(accept) == "" {
		return format{shape: shapeObject}, true
	}
	for _, entry := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(entry))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", "application/*", "*/*":
		default:
			continue
		}
		as := params["as"]
		if as == "" {
			return format{shape: shapeObject}, true
		}
		v := params["v"]
		if params["g"] != metav1.GroupName || (v != "v1" && v != "v1beta1") {
			continue
		}
		switch as {
		case "Table":
			return format{shape: shapeTable, metaVersion: v}, true
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			return format{shape: shapeMetadata, metaVersion: v}, true
		}
	}
	return format{}, false
}
