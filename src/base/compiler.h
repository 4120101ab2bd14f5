/*
 * compiler.h — the two things the library asks of the compiler beyond C11,
 * spelt once: the call site of a public function, and container_of.
 */
#ifndef GOMAP_COMPILER_H
#define GOMAP_COMPILER_H

#include <stddef.h>

/* The return address of the function it is written in: in a public entry
 * point, the user's call site, which misuse reports name (misuse.h,
 * scope.h). A macro, so that it is evaluated in that function; write it in
 * the public function itself and pass the value down, since in a helper it
 * would name the helper's caller instead. */
#define GOMAP_CALLER __builtin_return_address(0)

/* The struct of type `type` whose member `member` is at `ptr`: for blocks
 * embedded in a larger object, such as the struct gomap_retired of every
 * object retired through RCU (rcu.h), handed back to a free function. */
#define GOMAP_CONTAINER_OF(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif /* GOMAP_COMPILER_H */
