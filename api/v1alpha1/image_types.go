package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImageSpec names the image content.
type ImageSpec struct {
	// Digest is the manifest (or index) digest; the object name is derived from it.
	Digest string `json:"digest"`
}

// ImageStatus tracks an image's use for image cleanup.
type ImageStatus struct {
	// References are the names the image was pulled as.
	References []string     `json:"references,omitempty"`
	Size       int64        `json:"size,omitempty"`
	PulledAt   *metav1.Time `json:"pulledAt,omitempty"`
	LastUsedAt *metav1.Time `json:"lastUsedAt,omitempty"`
	// Users are the Container objects that use the image.
	Users []string `json:"users,omitempty"`
	// CleanupAfter, written by image cleanup, is the earliest time it may remove the image:
	// its last use plus ECS_IMAGE_MINIMUM_CLEANUP_AGE. The first cleanup cycle after it
	// removes the image (least recently used first, ECS_NUM_IMAGES_DELETE_PER_CYCLE per
	// cycle), or disk pressure does sooner. Nil while the image is kept whatever its age.
	CleanupAfter *metav1.Time `json:"cleanupAfter,omitempty"`
	// KeptBecause, written by image cleanup, says why the image stays: in use by a task
	// not yet cleaned up, excluded, image cleanup disabled, used too recently, waiting for
	// the next cycle, or a removal that failed. Empty only for an image with no status yet.
	KeptBecause string `json:"keptBecause,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced

// Image is an image the agent pulled or used.
type Image struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ImageSpec   `json:"spec,omitempty"`
	Status ImageStatus `json:"status,omitempty"`
}

// ImageName returns the object name for an image digest ("sha256:abc" -> "sha256-abc").
func ImageName(digest string) string {
	out := []byte(digest)
	for i, b := range out {
		if b == ':' {
			out[i] = '-'
		}
	}
	return string(out)
}

// +kubebuilder:object:root=true

// ImageList is a list of Images.
type ImageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Image `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Image{}, &ImageList{})
}
