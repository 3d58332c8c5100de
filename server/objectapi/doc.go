// Package objectapi is the read-only, Kubernetes-style object API the agent serves on its
// introspection port, so that `ecsctl` and a plain `kubectl --server http://host:51678`
// can list, get and watch the agent's objects.
//
// Paths (group ecs.ecsd.io, version v1alpha1, GET only; anything else is 405):
//
//	/api                                        APIVersions (no core versions)
//	/apis                                       APIGroupList
//	/apis/ecs.ecsd.io                           APIGroup
//	/apis/ecs.ecsd.io/v1alpha1                  APIResourceList
//	/apis/ecs.ecsd.io/v1alpha1/<resource>       list or watch across namespaces
//	/apis/ecs.ecsd.io/v1alpha1/namespaces/<ns>/<resource>         list or watch
//	/apis/ecs.ecsd.io/v1alpha1/namespaces/<ns>/<resource>/<name>  get
//	/apis/ecs.ecsd.io/v1alpha1/namespaces/<ns>/containers/<name>/log  container output
//
// List and watch take labelSelector, fieldSelector (metadata.name, metadata.namespace),
// watch=true|1, resourceVersion, timeoutSeconds, allowWatchBookmarks and sendInitialEvents
// with the API server's meaning. limit and continue are accepted and ignored: a list is
// always complete. An Accept of application/json;as=Table;g=meta.k8s.io;v=v1 (what kubectl
// sends) returns a Table, with includeObject=None|Metadata|Object; as=PartialObjectMetadata
// returns metadata only. The log subresource takes follow, tailLines and limitBytes.
//
// Every ecsd object lives in the one namespace api.Namespace. kubectl without a kubeconfig
// asks for the "default" namespace, so that name is served as api.Namespace: `kubectl get
// tasks` shows the tasks instead of an empty list that would only confuse.
//
// Secrets never leave through this API: credentials IDs, endpoint IDs and values that look
// like credentials are replaced by Redacted in every response (see redact.go).
package objectapi
