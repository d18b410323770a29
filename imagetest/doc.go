// Package imagetest holds the test of the container image: it builds the
// image from the repository's Containerfile with scripts/build-image.sh
// (podman, nothing pulled), checks its configuration and its file system
// (a non-root user, a static binary, no shell), then runs it and signs a
// user in through the browser flow, exchanges the code and verifies the
// key. Where containers cannot run, it runs the image's root file system
// under chroot as the image's user instead and says which part it skipped.
// It has no code of its own.
package imagetest
