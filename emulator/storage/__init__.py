"""What the Azure Files plane (files/) and the Blob plane (blob/) share as pieces of one storage service: the
query of a request, the XML of listings, and the bodies of reads and writes. Each plane keeps its own rules."""
