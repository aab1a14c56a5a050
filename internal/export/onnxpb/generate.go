// Package onnxpb holds the Go types of ONNX's onnx.proto, generated with
// protoc 3.21 and protoc-gen-go v1.36.12. The proto package is renamed
// cnnctl.onnx so that the binary can link other ONNX bindings without a
// registry name conflict. The generated file is committed, so building
// needs no protoc; to regenerate:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go generate ./internal/export/onnxpb
package onnxpb

//go:generate protoc --proto_path=proto --go_out=. --go_opt=paths=source_relative onnx.proto
