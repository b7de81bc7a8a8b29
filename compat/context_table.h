/*
 * The drop-in's own contexts, by the id a program holds (the ring's
 * address). Every io_* call looks its id up here first: an id that is not
 * here is the kernel's, and goes to the kernel. The lookup takes no lock
 * and walks no list (context_table.c), so a kernel context pays one probe
 * of an empty table before its system call.
 */
#ifndef AIORING_CONTEXT_TABLE_H
#define AIORING_CONTEXT_TABLE_H

/* 0, or -ENOMEM. id must not be NULL nor in the table already. */
int context_table_insert(const void *id, void *value);

/* The value id was inserted with, now out of the table; NULL if none. */
void *context_table_remove(const void *id);

/* The value id was inserted with, or NULL. */
void *context_table_find(const void *id);

#endif
