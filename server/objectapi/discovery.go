package objectapi

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// Discovery documents. kubectl 1.30+ asks for aggregated discovery
// (as=APIGroupDiscoveryList); answering with the plain documents and a plain
// application/json Content-Type makes client-go fall back to fetching each group version,
// which is all a read-only API with one group needs.

// coreVersions is /api: core v1 has only what kubectl exec needs (pods.go).
func coreVersions() *metav1.APIVersions {
	return &metav1.APIVersions{
		TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
		Versions:                   []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{},
	}
}

func groupVersion() metav1.GroupVersionForDiscovery {
	return metav1.GroupVersionForDiscovery{GroupVersion: api.GroupVersion.String(), Version: api.GroupVersion.Version}
}

// group is /apis/ecs.ecsd.io.
func group() *metav1.APIGroup {
	return &metav1.APIGroup{
		TypeMeta:         metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:             api.GroupVersion.Group,
		Versions:         []metav1.GroupVersionForDiscovery{groupVersion()},
		PreferredVersion: groupVersion(),
	}
}

// groupList is /apis.
func groupList() *metav1.APIGroupList {
	g := group()
	g.TypeMeta = metav1.TypeMeta{}
	return &metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups:   []metav1.APIGroup{*g},
	}
}

// resourceList is /apis/ecs.ecsd.io/v1alpha1.
func (h *Handler) resourceList() *metav1.APIResourceList {
	l := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: api.GroupVersion.String(),
		APIResources: []metav1.APIResource{},
	}
	for _, r := range h.resources {
		l.APIResources = append(l.APIResources, r.apiResources()...)
	}
	return l
}
