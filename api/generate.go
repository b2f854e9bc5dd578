// Package api holds hydrocast's protocol definitions and their generated Go code.
//
// Regenerate with `go generate ./api` (needs protoc, protoc-gen-go and
// protoc-gen-go-grpc; see DEVELOPERS.md).
package api

//go:generate protoc -I . --go_out=paths=source_relative:. hydrocast/v1/hydrocast.proto
//go:generate protoc -I . --go-grpc_out=paths=source_relative:. hydrocast/v1/hydrocast.proto
//go:generate protoc -I . --go_out=paths=source_relative:. hydrocast/v1/registry.proto
//go:generate protoc -I . --go-grpc_out=paths=source_relative:. hydrocast/v1/registry.proto
//go:generate protoc -I . --go_out=paths=source_relative:. inference/grpc_service.proto
//go:generate protoc -I . --go-grpc_out=paths=source_relative:. inference/grpc_service.proto
