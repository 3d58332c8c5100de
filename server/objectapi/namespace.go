package objectapi

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// namespaceObject is the core v1 Namespace document for the one namespace objects live in.
// It is written out by hand to keep k8s.io/api's core types out of the agent binary.
type namespaceObject struct {
	Kind       string            `json:"kind"`
	APIVersion string            `json:"apiVersion"`
	Metadata   map[string]string `json:"metadata"`
	Status     map[string]string `json:"status"`
}

// serveNamespace answers GET /api/v1/namespaces/<name>. kubectl (cli-runtime) asks for the
// namespace after a 404 on an object, to tell "no such object" from "no such namespace";
// without this every `get task <missing>` was reported as a missing namespace. ecs and
// default (served as ecs) exist; any other name does not.
func serveNamespace(w http.ResponseWriter, name string) {
	if canonicalNamespace(name) != api.Namespace {
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name))
		return
	}
	writeJSON(w, http.StatusOK, namespaceObject{
		Kind:       "Namespace",
		APIVersion: "v1",
		Metadata:   map[string]string{"name": name},
		Status:     map[string]string{"phase": "Active"},
	})
}
