// Package referrer pushes a document (an SBOM) to a registry as an OCI 1.1
// artifact whose subject is an image, so it can be found from the image
// digest: through the referrers API, or the sha256-<digest> tag scheme on
// registries without it (go-containerregistry maintains that tag).
package referrer
