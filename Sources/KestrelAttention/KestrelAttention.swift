// KestrelAttention: this module's issue has not landed yet, so it deliberately holds no API
// (ARCHITECTURE.md: an empty module rather than a fake one).
