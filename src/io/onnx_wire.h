/* A look at a protobuf message's wire bytes before protobuf-c unpacks them.
 *
 * protobuf-c's unpack recurses once per nested message, with no limit: a
 * 63 KB ONNX file of 3000 If nodes nested in each other's then_branch
 * overflows the stack. It also allocates a struct, a pointer and a copy of
 * every string per field occurrence, so a file of millions of tiny
 * metadata entries takes twenty times its size. This scan reads the same
 * bytes without recursing and without allocating per field, guided by the
 * generated descriptors, so every message type is covered as the schema
 * says (GraphProto through AttributeProto.g / graphs, TypeProto through
 * sequence / map / optional element types, FunctionProto, ...), and says
 * how deep messages nest and about how much unpacking them would take.
 *
 *     cv_wire_report r;
 *     if (cv_wire_scan(&onnx__model_proto__descriptor, buf, len, &r) != 0) ... out of memory
 *     if (r.type_depth > CV_WIRE_MAX_NESTING) ... refuse, naming r.deep_type
 *
 * Safe on any bytes: lengths and varints are checked against the buffer,
 * the stack of open messages is an explicit array (on the heap), and each
 * byte is visited once, so the cost is linear in the file size. Where the
 * bytes stop being valid protobuf the scan stops there and reports what it
 * saw: protobuf-c refuses such a message before recursing past that point,
 * so judging validity stays protobuf-c's job. */
#ifndef CV_ONNX_WIRE_H
#define CV_ONNX_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* How deep one message type may nest inside itself (a subgraph of a
 * subgraph, a sequence of sequences): real models stay under ten. The top
 * graph of a model counts as 1. */
#define CV_WIRE_MAX_NESTING 32

/* How deep messages of all types together may nest: bounds protobuf-c's
 * recursion (about 1 KB of stack a level) whatever the schema. A model at
 * the per-type limit everywhere stays under it. */
#define CV_WIRE_MAX_DEPTH 256

typedef struct {
    int type_depth;        /* deepest nesting of one message type inside itself */
    const char *deep_type; /* that type's name ("GraphProto"), NULL when no message nests */
    int depth;             /* deepest nesting of messages of any type (the top one is 1) */
    size_t unpacked_bytes; /* about what protobuf-c's unpack allocates (an upper estimate) */
    int truncated;         /* 1 when the bytes stopped being valid protobuf before their end */
} cv_wire_report;

/* Scan buf[0..len) as a serialized message of type desc. Returns 0, or -1
 * when memory for the stack of open messages ran out. */
int cv_wire_scan(const ProtobufCMessageDescriptor *desc, const unsigned char *buf, size_t len,
                 cv_wire_report *out);

#endif
