/*
 * mlif_data.h - sample inputs baked into the program by the host.
 *
 * The host generates mlif_data.c for each run. Every symbol there is named
 * mlif_sample_* so that the ROM metric can leave the test data out.
 */
#ifndef MLIF_DATA_H
#define MLIF_DATA_H

#include <stddef.h>
#include <stdint.h>

extern const size_t mlif_sample_count;
extern const size_t mlif_sample_input_count;
/* mlif_sample_inputs[sample * mlif_sample_input_count + input] */
extern const uint8_t *const mlif_sample_inputs[];
extern const size_t mlif_sample_input_bytes[];
/* How often invoke runs per sample (>= 1); every run is reported. */
extern const size_t mlif_sample_invoke_runs;

#endif /* MLIF_DATA_H */
