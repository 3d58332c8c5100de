package runtime

import "time"

// ImageRecord is one image name in the runtime's image store, as image cleanup sees it.
type ImageRecord struct {
	// Name is the normalized reference the image is stored under
	// ("docker.io/library/busybox:latest", "127.0.0.1:5000/app@sha256:…").
	Name string
	// Digest is the manifest (or index) digest the name points at.
	Digest string
	// Size is the size of the image's content for the runtime's platform (compressed
	// layers, config and manifest), as ImageInfo.Size; 0 when it cannot be read (content
	// missing for this platform).
	Size int64
	// CreatedAt is when the name appeared in the store (pulled, imported or tagged on this
	// host): non-ECS images' age for NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE is counted from it.
	CreatedAt time.Time
}

// FilesystemUsage is the usage of one file system that holds image data (content blobs or
// unpacked layers), as df shows it.
type FilesystemUsage struct {
	// Path is the runtime's directory on that file system.
	Path string
	// Used and Available are bytes in use and bytes free to unprivileged writers; their sum
	// is what df counts a percentage against (reserved blocks are neither).
	Used      uint64
	Available uint64
}

// UsedPercent is Used as a percentage of Used+Available, like df's Use% (0 when both are 0).
func (u FilesystemUsage) UsedPercent() float64 {
	total := u.Used + u.Available
	if total == 0 {
		return 0
	}
	return float64(u.Used) * 100 / float64(total)
}

// RemoveImageOptions qualify a RemoveImage.
type RemoveImageOptions struct {
	// Digest, when set, removes the name only while it still points at this digest: a tag
	// that was pulled again and now names a newer image is left alone (and the call
	// succeeds, as for an absent name).
	Digest string
}

// RemoveImageOption sets a RemoveImageOptions field.
type RemoveImageOption func(*RemoveImageOptions)

// IfDigest sets RemoveImageOptions.Digest.
func IfDigest(digest string) RemoveImageOption {
	return func(o *RemoveImageOptions) { o.Digest = digest }
}
