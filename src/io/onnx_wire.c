/* The wire-format scan of onnx_wire.h: one pass over the bytes with an
 * explicit stack of the messages still open. */
#include "onnx_wire.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* protobuf-c's unpack, per field occurrence: a ScannedMember while the
 * message is parsed (32 bytes) and the malloc bookkeeping of whatever it
 * allocates (16). Counted generously: the estimate is a ceiling. */
#define WIRE_SCAN_COST 32
#define WIRE_MALLOC_COST 16

/* Frames beyond this stop the scan: such a file is refused anyway
 * (CV_WIRE_MAX_DEPTH), and the stack stays within 1 MiB. */
#define WIRE_STACK_CAP (1 << 16)

/* Distinct message types in one schema; ONNX has 26. A type past this is
 * not counted for type_depth (it still counts for depth). */
#define WIRE_MAX_TYPES 64

typedef struct {
    size_t end;                             /* offset one past the message's last byte */
    const ProtobufCMessageDescriptor *desc; /* its type */
    int type;                               /* index into the scan's type table, -1 past it */
} wire_frame;

typedef struct {
    const ProtobufCMessageDescriptor *desc[WIRE_MAX_TYPES];
    int open[WIRE_MAX_TYPES]; /* messages of this type open right now */
    int n;
} wire_types;

/* Base-128 varint at *pos, at most 10 bytes; false when cut off or longer. */
static bool read_varint(const unsigned char *buf, size_t end, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70 && *pos < end; shift += 7) {
        unsigned char b = buf[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << (shift < 64 ? shift : 0);
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

static int type_index(wire_types *t, const ProtobufCMessageDescriptor *d)
{
    for (int k = 0; k < t->n; k++)
        if (t->desc[k] == d)
            return k;
    if (t->n == WIRE_MAX_TYPES)
        return -1;
    t->desc[t->n] = d;
    t->open[t->n] = 0;
    return t->n++;
}

static size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

static bool is_varint_type(ProtobufCType t)
{
    return t == PROTOBUF_C_TYPE_INT32 || t == PROTOBUF_C_TYPE_SINT32 || t == PROTOBUF_C_TYPE_UINT32 ||
           t == PROTOBUF_C_TYPE_INT64 || t == PROTOBUF_C_TYPE_SINT64 || t == PROTOBUF_C_TYPE_UINT64 ||
           t == PROTOBUF_C_TYPE_BOOL || t == PROTOBUF_C_TYPE_ENUM;
}

/* What unpacking one length-delimited field of len bytes allocates, other
 * than a sub-message's own fields (counted when the scan walks into it). */
static size_t length_field_cost(const ProtobufCFieldDescriptor *f, size_t len)
{
    size_t slot = f && f->label == PROTOBUF_C_LABEL_REPEATED ? sizeof(void *) : 0;
    if (!f) /* unknown field: protobuf-c keeps a copy */
        return add_sat(len, WIRE_MALLOC_COST + 24);
    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE:
        return f->descriptor ? ((const ProtobufCMessageDescriptor *)f->descriptor)->sizeof_message +
                                   WIRE_MALLOC_COST + slot
                             : WIRE_MALLOC_COST;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES: return add_sat(len, 1 + WIRE_MALLOC_COST + slot);
    default: /* packed scalars: a varint byte may become an 8-byte value */
        return len > SIZE_MAX / 8 ? SIZE_MAX : is_varint_type(f->type) ? len * 8 : len;
    }
}

typedef struct {
    wire_frame *stack;
    int n, cap;
    wire_types types;
    cv_wire_report *r;
} wire_scan;

/* Open a message of type d ending at end. 0, 1 when the stack is at its
 * cap (stop scanning), -1 out of memory. */
static int push_message(wire_scan *s, const ProtobufCMessageDescriptor *d, size_t end)
{
    if (s->n == WIRE_STACK_CAP)
        return 1;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        wire_frame *st = realloc(s->stack, sizeof *st * (size_t)cap);
        if (!st)
            return -1;
        s->stack = st;
        s->cap = cap;
    }
    int t = type_index(&s->types, d);
    s->stack[s->n++] = (wire_frame){end, d, t};
    if (s->n > s->r->depth)
        s->r->depth = s->n;
    if (t >= 0 && ++s->types.open[t] > s->r->type_depth) {
        s->r->type_depth = s->types.open[t];
        s->r->deep_type = d->short_name;
    }
    return 0;
}

static void pop_message(wire_scan *s)
{
    int t = s->stack[--s->n].type;
    if (t >= 0)
        s->types.open[t]--;
}

/* Skip or enter the field whose tag was just read at *pos. 1 to go on, 0
 * where the bytes are not valid protobuf (or the stack is at its cap), -1
 * out of memory. */
static int step_field(wire_scan *s, const unsigned char *buf, size_t *pos, uint64_t tag)
{
    const wire_frame *top = &s->stack[s->n - 1];
    const ProtobufCMessageDescriptor *d = top->desc;
    uint64_t number = tag >> 3, v;
    const ProtobufCFieldDescriptor *f =
        number && number <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)number) : NULL;
    s->r->unpacked_bytes = add_sat(s->r->unpacked_bytes, WIRE_SCAN_COST);
    switch (tag & 7) {
    case 0: /* varint */
        if (!read_varint(buf, top->end, pos, &v))
            return 0;
        break;
    case 1: /* 64-bit */
    case 5: /* 32-bit */ {
        size_t n = (tag & 7) == 1 ? 8 : 4;
        if (top->end - *pos < n)
            return 0;
        *pos += n;
        break;
    }
    case 2: /* length-delimited */
        if (!read_varint(buf, top->end, pos, &v) || v > top->end - *pos)
            return 0;
        s->r->unpacked_bytes = add_sat(s->r->unpacked_bytes, length_field_cost(f, (size_t)v));
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor) {
            int st = push_message(s, f->descriptor, *pos + (size_t)v);
            if (st != 0)
                return st < 0 ? -1 : 0;
        } else {
            *pos += (size_t)v;
        }
        break;
    default: /* groups (3, 4) and wire types 6, 7: protobuf-c refuses them */
        return 0;
    }
    if (f && f->label == PROTOBUF_C_LABEL_REPEATED && (tag & 7) != 2)
        s->r->unpacked_bytes = add_sat(s->r->unpacked_bytes, 8);
    return 1;
}

int cv_wire_scan(const ProtobufCMessageDescriptor *desc, const unsigned char *buf, size_t len,
                 cv_wire_report *out)
{
    memset(out, 0, sizeof *out);
    wire_scan s = {.r = out};
    if (push_message(&s, desc, len) < 0)
        return -1;
    out->unpacked_bytes = desc->sizeof_message + WIRE_MALLOC_COST;
    size_t pos = 0;
    int status = 0;
    while (s.n > 0) {
        if (pos == s.stack[s.n - 1].end) {
            pop_message(&s);
            continue;
        }
        uint64_t tag;
        int go = read_varint(buf, s.stack[s.n - 1].end, &pos, &tag) ? step_field(&s, buf, &pos, tag) : 0;
        if (go <= 0) {
            status = go < 0 ? -1 : 0;
            out->truncated = go == 0;
            break;
        }
    }
    free(s.stack);
    return status;
}
