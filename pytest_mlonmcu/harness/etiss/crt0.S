/*
 * crt0.S - startup for programs on ETISS (bare_etiss_processor, RV32).
 *
 * ETISS loads every PT_LOAD segment at its physical address, so .data is already
 * in RAM (linked there directly, see etiss.ld) and only .bss/.tbss need zeroing.
 * The run ends at a jump-to-self, which etiss.exit_on_loop=true turns into a
 * normal simulator exit; there is no exit-code channel, the harness prints it.
 */
    .section .text.init.enter, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    .option push
    .option norelax  /* gp must not be set relative to itself */
    la gp, __global_pointer$
    .option pop
    la sp, __stack_top
    la tp, __tls_base          /* picolibc keeps errno in thread-local storage */

    /* Traps (illegal instruction, access faults) must stop the run, not restart it:
       mtvec is 0 after reset, which is _start. */
    la t0, mlif_etiss_trap_entry
    csrw mtvec, t0

#ifdef __riscv_flen
    /* mstatus.FS = initial: enables the FPU (a real core traps FP instructions otherwise). */
    li t0, 0x2000
    csrs mstatus, t0
    fscsr zero
#endif

    /* Zero .tbss and .bss (one contiguous range, see etiss.ld). */
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:
    call __libc_init_array     /* C++ static constructors */
    call main
    .globl mlif_etiss_halt
mlif_etiss_halt:
    j mlif_etiss_halt          /* jump-to-self: ETISS ends the simulation here */
    .size _start, . - _start

    /* mtvec needs 4-byte alignment (direct mode). */
    .balign 4
    .globl mlif_etiss_trap_entry
    .type mlif_etiss_trap_entry, @function
mlif_etiss_trap_entry:
    /* The program is dead: take a fresh stack (sp may be what faulted) and report. */
    la sp, __stack_top
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call mlif_etiss_trap
    j mlif_etiss_halt
    .size mlif_etiss_trap_entry, . - mlif_etiss_trap_entry
