/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Random (version 4) UUIDs in their canonical 36-character text form, used for namespace
 * ids, run ids and request ids. Any thread.
 */
#ifndef TD_UUID_H
#define TD_UUID_H

#define TD_UUID_LEN 36

/* Writes a new random UUID and its terminating NUL into out (37 bytes). */
void td_uuid_v4(char out[TD_UUID_LEN + 1]);
/* Whether s is a canonical UUID (8-4-4-4-12 hex digits). */
int td_uuid_valid(const char *s);

#endif
