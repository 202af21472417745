/*
 * tmr-avr-sim: runs an unchanged AVR firmware ELF in libsimavr and bridges the MCU's UART0 to a
 * pseudo-terminal, so a host opens the emulated board exactly like /dev/ttyACM0.
 *
 * This file links libsimavr (GPL-3.0) and is therefore distributed under GPL-3.0; see
 * LICENSE-NOTE.md. Contract (command line, stdin commands, stdout lines): README.md.
 *
 * Design: one thread. The AVR runs in batches of avr_run() steps; between batches the harness
 * polls the pty master and stdin without blocking. When the firmware executes SLEEP, simavr calls
 * our sleep callback, which waits in ppoll() on the same descriptors until the emulated sleep is
 * over in wall time or I/O arrives, whichever is first. Waking early credits the emulator only
 * the wall time that really passed, so emulated time never runs ahead of the wall clock by more
 * than pace_lead_ns_max. No threads, no locks; signals are delivered only inside ppoll().
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "avr_eeprom.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_io.h"
#include "sim_irq.h"

#define PROGRAM_NAME "tmr-avr-sim"

enum {
	EXIT_CLEAN = 0,
	EXIT_RUNTIME_FAILURE = 1,
	EXIT_SETUP_ERROR = 2,
};

/* Limits on everything: every buffer below has a named maximum. */
enum {
	RX_RING_BYTES_MAX = 4096,     /* host -> MCU bytes waiting for the UART to accept them */
	TX_BUF_BYTES_MAX = 4096,      /* MCU -> host bytes waiting for the pty master to take them */
	COMMAND_LINE_BYTES_MAX = 512, /* one stdin command line, newline excluded */
	SYMBOLS_COUNT_MAX = 65536,    /* ELF symbols kept for `peek` */
	SYMBOL_NAME_BYTES_MAX = 256,
	EEPROM_HEX_BYTES_MAX = 4096,  /* --eeprom-hex payload (ATmega328P has 1024 bytes) */
	BATCH_STEPS_MAX = 4096,       /* avr_run() calls between two looks at stdin and the pty */
};

#define NS_PER_S 1000000000ULL
#define AVR_DATA_SYMBOL_OFFSET 0x800000u /* avr-ld maps SRAM to 0x800000 in the ELF */
#define AVR_EEPROM_SYMBOL_OFFSET 0x810000u

/* Pacing of emulated time against CLOCK_MONOTONIC. */
static const int64_t pace_sleep_ns_min = 20000;      /* shorter emulated sleeps are not slept */
static const int64_t pace_lead_ns_max = 2000000;     /* emulator may run ahead of wall time */
static const int64_t pace_lag_ns_max = 20000000;     /* beyond this lag, forget the debt */
static const int64_t idle_wait_ns_max = 100000000;   /* no cycle timer pending: wait for I/O */
static const int64_t busy_lead_ns_max = 500000;      /* firmware that never sleeps is throttled */

typedef struct {
	char *name;
	uint32_t value;  /* st_value as in the ELF */
	uint32_t size_bytes;
	uint8_t type;    /* STT_* */
	uint8_t is_global;
} elf_symbol_t;

typedef struct {
	/* options */
	const char *elf_path;
	const char *mcu_option;
	int mcu_option_given;
	uint32_t freq_hz;
	uint8_t eeprom_init[EEPROM_HEX_BYTES_MAX];
	uint32_t eeprom_init_bytes;

	avr_t *avr;
	avr_irq_t *uart_irqs; /* UART_IRQ_COUNT consecutive IRQs of UART0 */
	int uart_accepting;   /* XON seen and no XOFF since: the UART fifo takes bytes */
	int feeding;          /* re-entrancy guard for feed_uart() */

	int master_fd;
	int slave_fd; /* kept open for the whole run: the master never sees EIO or hang-up */
	char slave_path[128];

	uint8_t rx_ring[RX_RING_BYTES_MAX];
	uint32_t rx_ring_read_index;
	uint32_t rx_ring_count;

	uint8_t tx_buf[TX_BUF_BYTES_MAX];
	uint32_t tx_buf_count;

	char line[COMMAND_LINE_BYTES_MAX + 1];
	uint32_t line_count;
	int line_overflowed; /* discarding the rest of a too-long line */
	int stdin_open;

	int64_t pace_base_ns; /* CLOCK_MONOTONIC time at which emulated cycle 0 happened */
	int io_ready;         /* set by the sleep callback when stdin or the pty became readable */
	int halted;           /* cpu_Done or cpu_Crashed: not run until `reset` */
	int quit_requested;

	uint16_t sp_lowest; /* lowest stack pointer seen since start */
	int sp_half_written;  /* SPH written, SPL not yet: SP not sampled */

	elf_symbol_t *symbols;
	uint32_t symbols_count;

	int harness_reset_in_progress;
	uint64_t resets_count;
	uint64_t firmware_resets_count; /* resets not asked for on stdin: the watchdog */
	uint64_t tx_dropped_bytes;      /* firmware output the pty master would not take */
	uint64_t rx_discarded_bytes;    /* host input read while the MCU was halted */

	FILE *out; /* our stdout; fd 1 itself is pointed at stderr for libsimavr's chatter */
	sigset_t ppoll_sigmask;
	int log_level_max;
} harness_t;

static harness_t g;
static volatile sig_atomic_t g_signal_received;
static elf_firmware_t g_firmware; /* large; static keeps it off the stack */

/* ------------------------------------------------------------------ errors and output */

static void fail(int exit_code, const char *format, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

static void vfail(int exit_code, const char *format, va_list ap)
	__attribute__((noreturn, format(printf, 2, 0)));

static void vfail(int exit_code, const char *format, va_list ap)
{
	fprintf(stderr, PROGRAM_NAME ": ");
	vfprintf(stderr, format, ap);
	fprintf(stderr, "\n");
	exit(exit_code);
}

static void fail(int exit_code, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	vfail(exit_code, format, ap);
}

static void reply(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void reply(const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	vfprintf(g.out, format, ap);
	va_end(ap);
	fputc('\n', g.out);
	if (fflush(g.out) != 0) {
		/* The parent stopped reading us: nobody is left to serve. */
		g.quit_requested = 1;
	}
}

static void simavr_logger(avr_t *avr, const int level, const char *format, va_list ap)
{
	(void)avr;
	if (level <= g.log_level_max)
		vfprintf(stderr, format, ap);
}

static int64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * (int64_t)NS_PER_S + ts.tv_nsec;
}

/* Overflow-free conversions: a 64-bit cycle count times 1e9 would overflow after ~18 s. */
static uint64_t cycles_to_ns(uint64_t cycles, uint32_t hz)
{
	return cycles / hz * NS_PER_S + cycles % hz * NS_PER_S / hz;
}

static uint64_t ns_to_cycles(uint64_t ns, uint32_t hz)
{
	return ns / NS_PER_S * hz + ns % NS_PER_S * hz / NS_PER_S;
}

/* ------------------------------------------------------------------ option parsing */

static int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void parse_eeprom_hex(const char *hex)
{
	size_t length = strlen(hex);
	if (length == 0 || length % 2 != 0)
		fail(EXIT_SETUP_ERROR, "--eeprom-hex needs an even, non-zero number of hex digits");
	if (length / 2 > EEPROM_HEX_BYTES_MAX)
		fail(EXIT_SETUP_ERROR, "--eeprom-hex is longer than %d bytes", EEPROM_HEX_BYTES_MAX);
	for (size_t i = 0; i < length; i += 2) {
		int high = hex_digit_value(hex[i]);
		int low = hex_digit_value(hex[i + 1]);
		if (high < 0 || low < 0)
			fail(EXIT_SETUP_ERROR, "--eeprom-hex has a non-hex character at offset %zu", i);
		g.eeprom_init[i / 2] = (uint8_t)(high << 4 | low);
	}
	g.eeprom_init_bytes = (uint32_t)(length / 2);
}

static uint32_t parse_freq_hz(const char *text)
{
	char *end = NULL;
	errno = 0;
	unsigned long long value = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value == 0 ||
	    value > UINT32_MAX)
		fail(EXIT_SETUP_ERROR, "--freq-hz wants an integer in 1..%u, got '%s'", UINT32_MAX, text);
	return (uint32_t)value;
}

static void parse_options(int argc, char **argv)
{
	g.mcu_option = "atmega328p";
	g.freq_hz = 16000000;
	for (int i = 1; i < argc; i++) {
		const char *option = argv[i];
		if (strcmp(option, "--help") == 0 || strcmp(option, "-h") == 0) {
			printf("usage: " PROGRAM_NAME " --elf PATH [--mcu atmega328p] [--freq-hz 16000000]"
			       " [--eeprom-hex HEX]\n");
			exit(EXIT_CLEAN);
		}
		if (i + 1 >= argc)
			fail(EXIT_SETUP_ERROR, "option '%s' is unknown or lacks its value (try --help)", option);
		const char *value = argv[++i];
		if (strcmp(option, "--elf") == 0) {
			g.elf_path = value;
		} else if (strcmp(option, "--mcu") == 0) {
			g.mcu_option = value;
			g.mcu_option_given = 1;
		} else if (strcmp(option, "--freq-hz") == 0) {
			g.freq_hz = parse_freq_hz(value);
		} else if (strcmp(option, "--eeprom-hex") == 0) {
			parse_eeprom_hex(value);
		} else {
			fail(EXIT_SETUP_ERROR, "unknown option '%s' (try --help)", option);
		}
	}
	if (!g.elf_path)
		fail(EXIT_SETUP_ERROR, "missing --elf PATH (try --help)");
}

/* ------------------------------------------------------------------ ELF symbols for `peek` */

static void load_symbols_from_section(Elf *elf, Elf_Scn *section, const GElf_Shdr *header)
{
	Elf_Data *data = elf_getdata(section, NULL);
	if (!data || header->sh_entsize == 0)
		return;
	size_t count = header->sh_size / header->sh_entsize;
	for (size_t i = 0; i < count && g.symbols_count < SYMBOLS_COUNT_MAX; i++) {
		GElf_Sym symbol;
		if (!gelf_getsym(data, (int)i, &symbol))
			continue;
		const char *name = elf_strptr(elf, header->sh_link, symbol.st_name);
		if (!name || name[0] == '\0' || strlen(name) >= SYMBOL_NAME_BYTES_MAX)
			continue;
		elf_symbol_t *kept = &g.symbols[g.symbols_count++];
		kept->name = strdup(name);
		if (!kept->name)
			fail(EXIT_SETUP_ERROR, "out of memory reading symbols");
		kept->value = (uint32_t)symbol.st_value;
		kept->size_bytes = (uint32_t)symbol.st_size;
		kept->type = (uint8_t)GELF_ST_TYPE(symbol.st_info);
		kept->is_global = GELF_ST_BIND(symbol.st_info) == STB_GLOBAL;
	}
}

/* Checks that the file is an AVR ELF (elf_read_firmware trusts its input) and keeps its symbols. */
static void inspect_elf(const char *path)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		fail(EXIT_SETUP_ERROR, "libelf is out of date");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail(EXIT_SETUP_ERROR, "cannot open ELF '%s': %s", path, strerror(errno));
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		fail(EXIT_SETUP_ERROR, "'%s' is not an ELF file", path);
	GElf_Ehdr elf_header;
	if (!gelf_getehdr(elf, &elf_header) || gelf_getclass(elf) != ELFCLASS32)
		fail(EXIT_SETUP_ERROR, "'%s' is not a 32-bit ELF file", path);
	if (elf_header.e_machine != EM_AVR)
		fail(EXIT_SETUP_ERROR, "'%s' is not an AVR ELF (e_machine %u)", path,
		     (unsigned)elf_header.e_machine);
	g.symbols = calloc(SYMBOLS_COUNT_MAX, sizeof(*g.symbols));
	if (!g.symbols)
		fail(EXIT_SETUP_ERROR, "out of memory");
	Elf_Scn *section = NULL;
	while ((section = elf_nextscn(elf, section)) != NULL) {
		GElf_Shdr header;
		if (gelf_getshdr(section, &header) && header.sh_type == SHT_SYMTAB)
			load_symbols_from_section(elf, section, &header);
	}
	elf_end(elf);
	close(fd);
}

/* The data symbol called `name`, preferring a global one; NULL if none. */
static const elf_symbol_t *find_data_symbol(const char *name, int *exists_elsewhere)
{
	const elf_symbol_t *found = NULL;
	*exists_elsewhere = 0;
	for (uint32_t i = 0; i < g.symbols_count; i++) {
		const elf_symbol_t *symbol = &g.symbols[i];
		if (strcmp(symbol->name, name) != 0)
			continue;
		int in_data = symbol->value >= AVR_DATA_SYMBOL_OFFSET &&
		              symbol->value < AVR_EEPROM_SYMBOL_OFFSET &&
		              (symbol->type == STT_OBJECT || symbol->type == STT_NOTYPE);
		if (!in_data) {
			*exists_elsewhere = 1;
			continue;
		}
		if (!found || (symbol->is_global && !found->is_global))
			found = symbol;
	}
	return found;
}

/* ------------------------------------------------------------------ host <-> UART bytes */

/* Hands ring bytes to the UART while it accepts them; the UART raises XOFF when its fifo fills. */
static void feed_uart(void)
{
	if (g.feeding)
		return;
	g.feeding = 1;
	while (g.uart_accepting && g.rx_ring_count > 0 && !g.halted) {
		uint8_t byte = g.rx_ring[g.rx_ring_read_index];
		g.rx_ring_read_index = (g.rx_ring_read_index + 1) % RX_RING_BYTES_MAX;
		g.rx_ring_count--;
		avr_raise_irq(g.uart_irqs + UART_IRQ_INPUT, byte);
	}
	g.feeding = 0;
}

static void on_uart_xon(avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)param;
	if (value) {
		g.uart_accepting = 1;
		feed_uart();
	}
}

static void on_uart_xoff(avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)param;
	if (value)
		g.uart_accepting = 0;
}

/* Never blocks: what the master does not take now stays buffered and is retried later. */
static void flush_tx(void)
{
	uint32_t written_total = 0;
	while (written_total < g.tx_buf_count) {
		ssize_t written = write(g.master_fd, g.tx_buf + written_total, g.tx_buf_count - written_total);
		if (written > 0) {
			written_total += (uint32_t)written;
			continue;
		}
		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			fail(EXIT_RUNTIME_FAILURE, "write to pty master failed: %s", strerror(errno));
		break;
	}
	if (written_total > 0) {
		memmove(g.tx_buf, g.tx_buf + written_total, g.tx_buf_count - written_total);
		g.tx_buf_count -= written_total;
	}
}

static void on_uart_output(avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)param;
	if (g.tx_buf_count == TX_BUF_BYTES_MAX)
		flush_tx();
	if (g.tx_buf_count == TX_BUF_BYTES_MAX) {
		g.tx_dropped_bytes++; /* nobody reads the pty; the emulator must not wait */
		return;
	}
	g.tx_buf[g.tx_buf_count++] = (uint8_t)value;
}

static void read_master(void)
{
	uint8_t scratch[512];
	for (int reads = 0; reads < 64; reads++) {
		uint32_t free_bytes = RX_RING_BYTES_MAX - g.rx_ring_count;
		if (!g.halted && free_bytes == 0)
			return; /* back-pressure: the kernel's pty buffer holds the rest */
		uint32_t wanted = g.halted ? (uint32_t)sizeof(scratch) : free_bytes;
		if (wanted > sizeof(scratch))
			wanted = sizeof(scratch);
		ssize_t got = read(g.master_fd, scratch, wanted);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (got <= 0)
			fail(EXIT_RUNTIME_FAILURE, "read from pty master failed: %s",
			     got == 0 ? "end of file" : strerror(errno));
		if (g.halted) {
			g.rx_discarded_bytes += (uint64_t)got; /* a dead board receives nothing */
			continue;
		}
		for (ssize_t i = 0; i < got; i++) {
			uint32_t write_index = (g.rx_ring_read_index + g.rx_ring_count) % RX_RING_BYTES_MAX;
			g.rx_ring[write_index] = scratch[i];
			g.rx_ring_count++;
		}
	}
}

/* ------------------------------------------------------------------ pacing and sleep */

static int64_t emulated_wall_ns(uint64_t cycle)
{
	return g.pace_base_ns + (int64_t)cycles_to_ns(cycle, g.avr->frequency);
}

static void pace_rebase_now(void)
{
	g.pace_base_ns = monotonic_ns() - (int64_t)cycles_to_ns(g.avr->cycle, g.avr->frequency);
}

/* Keeps emulated time within [-lag_max, +lead_max] of wall time by moving the base. */
static void pace_clamp(int64_t now_ns)
{
	int64_t lead_ns = emulated_wall_ns(g.avr->cycle) - now_ns;
	if (lead_ns > pace_lead_ns_max)
		g.pace_base_ns -= lead_ns - pace_lead_ns_max;
	else if (lead_ns < -pace_lag_ns_max)
		g.pace_base_ns += -lead_ns - pace_lag_ns_max;
}

typedef struct {
	int woken_early; /* I/O or a signal ended the wait before the deadline */
	int stdin_ready;
	int master_ready;
} io_wait_t;

/* Waits until `deadline_ns` (-1: no deadline) or until stdin, the pty or a signal needs us. */
static io_wait_t wait_for_io(int64_t deadline_ns, int64_t now_ns)
{
	struct pollfd fds[2];
	nfds_t fds_count = 0;
	int stdin_index = -1;
	int master_index = -1;
	if (g.stdin_open) {
		stdin_index = (int)fds_count;
		fds[fds_count++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
	}
	if (g.halted || g.rx_ring_count < RX_RING_BYTES_MAX) {
		master_index = (int)fds_count;
		fds[fds_count++] = (struct pollfd){ .fd = g.master_fd, .events = POLLIN };
	}
	struct timespec timeout;
	struct timespec *timeout_pointer = NULL;
	if (deadline_ns >= 0) {
		int64_t wait_ns = deadline_ns > now_ns ? deadline_ns - now_ns : 0;
		timeout.tv_sec = (time_t)(wait_ns / (int64_t)NS_PER_S);
		timeout.tv_nsec = (long)(wait_ns % (int64_t)NS_PER_S);
		timeout_pointer = &timeout;
	}
	int ready = ppoll(fds, fds_count, timeout_pointer, &g.ppoll_sigmask);
	if (ready < 0 && errno != EINTR)
		fail(EXIT_RUNTIME_FAILURE, "ppoll failed: %s", strerror(errno));
	if (g_signal_received)
		g.quit_requested = 1;
	io_wait_t result = { .woken_early = ready != 0 };
	if (ready > 0) {
		const short wake_events = POLLIN | POLLHUP | POLLERR;
		result.stdin_ready = stdin_index >= 0 && (fds[stdin_index].revents & wake_events);
		result.master_ready = master_index >= 0 && (fds[master_index].revents & wake_events);
	}
	return result;
}

/*
 * Replaces avr_callback_sleep_raw. simavr adds `1 + sleep_cycles` to avr->cycle right after we
 * return; when I/O wakes us early we take back the cycles that did not pass in wall time, so the
 * cycle timers (UART, timers, watchdog) stay on schedule and the MCU sees the byte "now".
 */
static void on_avr_sleep(avr_t *avr, avr_cycle_count_t sleep_cycles)
{
	flush_tx();
	int64_t now_ns = monotonic_ns();
	pace_clamp(now_ns);
	int timers_pending = avr->cycle_timers.timer != NULL;
	int64_t deadline_ns = timers_pending ? emulated_wall_ns(avr->cycle + sleep_cycles)
	                                     : now_ns + idle_wait_ns_max;
	if (deadline_ns - now_ns < pace_sleep_ns_min)
		return; /* too short to sleep precisely: the lead is paid back by a later sleep */
	int woken_early = wait_for_io(deadline_ns, now_ns).woken_early;
	if (!woken_early && timers_pending)
		return;
	int64_t after_ns = monotonic_ns();
	uint64_t wall_cycle =
		after_ns > g.pace_base_ns ? ns_to_cycles((uint64_t)(after_ns - g.pace_base_ns), avr->frequency)
		                          : 0;
	uint64_t credit_cycles = wall_cycle > avr->cycle ? wall_cycle - avr->cycle : 0;
	if (timers_pending && credit_cycles > sleep_cycles)
		credit_cycles = sleep_cycles;
	/* Unsigned wrap-around is intended: simavr adds sleep_cycles back right after. */
	avr->cycle = avr->cycle + credit_cycles - sleep_cycles;
	if (woken_early)
		g.io_ready = 1;
}

/* ------------------------------------------------------------------ resets */

/* Registered as an IO module so it also sees resets simavr does by itself (the watchdog). */
static void on_avr_reset(avr_io_t *io)
{
	(void)io;
	g.uart_accepting = 0; /* RXEN is cleared; the firmware's UART init raises XON again */
	g.resets_count++;
	if (!g.harness_reset_in_progress)
		g.firmware_resets_count++;
}

static avr_io_t g_reset_watch_io = {
	.kind = "tmr-reset-watch",
	.reset = on_avr_reset,
};

static void reset_mcu(void)
{
	g.harness_reset_in_progress = 1;
	avr_reset(g.avr); /* also sets cpu_Running, so a crashed or done MCU runs again */
	g.harness_reset_in_progress = 0;
	/* Like pulling RESET low on silicon: MCUSR says EXTRF (simavr 1.6 leaves it 0). */
	if (g.avr->reset_flags.extrf.reg)
		avr_regbit_set(g.avr, g.avr->reset_flags.extrf);
	g.halted = 0;
	pace_rebase_now();
}

/* ------------------------------------------------------------------ stdin commands */

/* The RAM address of a data symbol, or NULL after replying with what is wrong. */
static const elf_symbol_t *ram_symbol(const char *verb, const char *name, uint32_t *address)
{
	if (!name) {
		reply("error %s needs a symbol name", verb);
		return NULL;
	}
	int exists_elsewhere = 0;
	const elf_symbol_t *symbol = find_data_symbol(name, &exists_elsewhere);
	if (!symbol) {
		if (exists_elsewhere)
			reply("error not a data symbol %s", name);
		else
			reply("error unknown symbol %s", name);
		return NULL;
	}
	*address = symbol->value - AVR_DATA_SYMBOL_OFFSET;
	if ((uint64_t)*address + symbol->size_bytes > (uint64_t)g.avr->ramend + 1) {
		reply("error symbol out of ram %s", name);
		return NULL;
	}
	return symbol;
}

static void command_peek(const char *name)
{
	uint32_t address = 0;
	const elf_symbol_t *symbol = ram_symbol("peek", name, &address);
	if (!symbol)
		return;
	fprintf(g.out, "peek %s %u %u%s", name, address, symbol->size_bytes,
	        symbol->size_bytes > 0 ? " " : "");
	for (uint32_t i = 0; i < symbol->size_bytes; i++)
		fprintf(g.out, "%02x", g.avr->data[address + i]);
	reply("%s", "");
}

/* Test hook: overwrites a data symbol's RAM with HEX (exactly its size), as an upset would. */
static void command_poke(const char *name, const char *hex)
{
	uint32_t address = 0;
	const elf_symbol_t *symbol = ram_symbol("poke", name, &address);
	if (!symbol)
		return;
	if (!hex || strlen(hex) != 2u * symbol->size_bytes) {
		reply("error poke %s needs %u hex bytes", name, symbol->size_bytes);
		return;
	}
	for (uint32_t i = 0; i < symbol->size_bytes; i++) {
		unsigned byte = 0;
		if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
			reply("error poke %s: not hex", name);
			return;
		}
		g.avr->data[address + i] = (uint8_t)byte;
	}
	reply("ok poke %s", name);
}

static void execute_command(char *line)
{
	char *save = NULL;
	char *verb = strtok_r(line, " \t\r", &save);
	if (!verb)
		return; /* blank line */
	char *argument = strtok_r(NULL, " \t\r", &save);
	char *second = strtok_r(NULL, " \t\r", &save);
	if (strcmp(verb, "reset") == 0) {
		reset_mcu();
		reply("ok reset");
	} else if (strcmp(verb, "peek") == 0) {
		command_peek(argument);
	} else if (strcmp(verb, "poke") == 0) {
		command_poke(argument, second);
	} else if (strcmp(verb, "stack") == 0) {
		reply("stack %u", (unsigned)g.sp_lowest);
	} else if (strcmp(verb, "stats") == 0) {
		reply("stats txDroppedBytes=%llu rxDiscardedBytes=%llu resets=%llu firmwareResets=%llu"
		      " cycle=%llu",
		      (unsigned long long)g.tx_dropped_bytes, (unsigned long long)g.rx_discarded_bytes,
		      (unsigned long long)g.resets_count, (unsigned long long)g.firmware_resets_count,
		      (unsigned long long)g.avr->cycle);
	} else if (strcmp(verb, "quit") == 0) {
		g.quit_requested = 1;
	} else {
		reply("error unknown command %s", verb);
	}
}

static void read_stdin(void)
{
	char chunk[256];
	ssize_t got = read(STDIN_FILENO, chunk, sizeof(chunk));
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (got <= 0) {
		g.stdin_open = 0; /* the parent closed us or died */
		g.quit_requested = 1;
		return;
	}
	for (ssize_t i = 0; i < got && !g.quit_requested; i++) {
		char c = chunk[i];
		if (c == '\n') {
			if (!g.line_overflowed) {
				g.line[g.line_count] = '\0';
				execute_command(g.line);
			}
			g.line_count = 0;
			g.line_overflowed = 0;
		} else if (g.line_overflowed) {
			continue;
		} else if (g.line_count == COMMAND_LINE_BYTES_MAX) {
			g.line_overflowed = 1;
			reply("error line too long");
		} else {
			g.line[g.line_count++] = c;
		}
	}
}

/* ------------------------------------------------------------------ main loop */

/* How long to wait after a batch: firmware that spins instead of sleeping runs 3-7x faster than
 * real time in simavr; waiting out its lead keeps its timers and watchdog in step with wall time. */
static int64_t busy_throttle_ns(void)
{
	if (g.halted)
		return 0;
	int64_t now_ns = monotonic_ns();
	pace_clamp(now_ns);
	int64_t lead_ns = emulated_wall_ns(g.avr->cycle) - now_ns;
	return lead_ns > busy_lead_ns_max ? lead_ns : 0;
}

/* Reads what stdin and the pty have, waiting up to `timeout_ns` (-1: until something happens). */
static void service_io(int64_t timeout_ns)
{
	int64_t now_ns = monotonic_ns();
	io_wait_t io = wait_for_io(timeout_ns < 0 ? -1 : now_ns + timeout_ns, now_ns);
	if (io.stdin_ready)
		read_stdin();
	if (io.master_ready)
		read_master();
	feed_uart();
	flush_tx();
}

/* The opcode at the PC writes SPH (`out 0x3e, Rr`). Between that and the `out 0x3d` that follows,
 * SP is half-updated and can read far lower than it ever really is, so that sample is skipped. */
/* Whether the instruction at PC is an OUT to the I/O register `data_address` (SPL or SPH). */
static int opcode_writes_io(const avr_t *avr, unsigned data_address)
{
	if (avr->pc + 1 > avr->flashend)
		return 0;
	uint16_t opcode = (uint16_t)(avr->flash[avr->pc] | avr->flash[avr->pc + 1] << 8);
	if ((opcode & 0xF800) != 0xB800)
		return 0;
	unsigned io_address = ((opcode >> 5) & 0x30) | (opcode & 0x0F);
	return io_address == data_address - 32;
}

static void run_batch(void)
{
	avr_t *avr = g.avr;
	g.io_ready = 0;
	for (int step = 0; step < BATCH_STEPS_MAX; step++) {
		/* avr-gcc moves SP as `out SPH; out SREG; out SPL`: between the two writes SP is half
		 * old, half new (up to 255 bytes off), so no sample from SPH written to SPL written. */
		if (opcode_writes_io(avr, R_SPH))
			g.sp_half_written = 1;
		int sample_sp = !g.sp_half_written;
		if (opcode_writes_io(avr, R_SPL))
			g.sp_half_written = 0;
		int state = avr_run(avr);
		if (sample_sp) {
			uint16_t sp = (uint16_t)(avr->data[R_SPL] | avr->data[R_SPH] << 8);
			if (sp < g.sp_lowest)
				g.sp_lowest = sp;
		}
		if (state == cpu_Done || state == cpu_Crashed) {
			flush_tx();
			g.halted = 1;
			g.rx_discarded_bytes += g.rx_ring_count;
			g.rx_ring_count = 0;
			reply("state %s", state == cpu_Done ? "done" : "crashed");
			return;
		}
		if (g.io_ready || g.quit_requested)
			return;
	}
}

/* ------------------------------------------------------------------ setup */

static void install_signal_handling(void)
{
	sigset_t blocked;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGHUP);
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &action, NULL);
	/* Handled signals stay blocked except inside ppoll(), so no other call sees EINTR. */
	sigprocmask(SIG_BLOCK, &blocked, &g.ppoll_sigmask);
	sigdelset(&g.ppoll_sigmask, SIGTERM);
	sigdelset(&g.ppoll_sigmask, SIGINT);
	sigdelset(&g.ppoll_sigmask, SIGHUP);
}

static void on_signal(int signal_number)
{
	(void)signal_number;
	g_signal_received = 1;
}

static void install_signal_handlers(void)
{
	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_signal;
	sigemptyset(&action.sa_mask);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGHUP, &action, NULL);
}

/* libsimavr prints to stdout and stderr during setup; silence both so errors stay one line. */
static int g_saved_stderr_fd = -1;

static void library_output_silence(void)
{
	fflush(stdout);
	fflush(stderr);
	int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0)
		fail(EXIT_SETUP_ERROR, "cannot open /dev/null: %s", strerror(errno));
	dup2(null_fd, STDOUT_FILENO);
	dup2(null_fd, STDERR_FILENO);
	close(null_fd);
}

/* After setup, anything libsimavr prints (to stdout or stderr) lands on our stderr. */
static void library_output_to_stderr(void)
{
	fflush(stdout);
	fflush(stderr);
	dup2(g_saved_stderr_fd, STDERR_FILENO);
	dup2(g_saved_stderr_fd, STDOUT_FILENO);
}

static void setup_stdio(void)
{
	int out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	g_saved_stderr_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (out_fd < 0 || g_saved_stderr_fd < 0)
		fail(EXIT_SETUP_ERROR, "stdout or stderr is not open");
	g.out = fdopen(out_fd, "w");
	if (!g.out)
		fail(EXIT_SETUP_ERROR, "fdopen failed: %s", strerror(errno));
	setvbuf(g.out, NULL, _IOLBF, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *level = getenv("TMR_AVR_SIM_LOG_LEVEL");
	g.log_level_max = level ? atoi(level) : LOG_WARNING;
	avr_global_logger_set(simavr_logger);
}

/* A setup error found while libsimavr's output is silenced: restore stderr first. */
static void setup_fail(const char *format, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void setup_fail(const char *format, ...)
{
	library_output_to_stderr();
	va_list ap;
	va_start(ap, format);
	vfail(EXIT_SETUP_ERROR, format, ap);
}

static void load_eeprom(avr_t *avr)
{
	if (g.eeprom_init_bytes == 0)
		return;
	if (g.eeprom_init_bytes > avr->e2end + 1)
		setup_fail("--eeprom-hex has %u bytes but the %s EEPROM holds %u", g.eeprom_init_bytes,
		           avr->mmcu, avr->e2end + 1);
	avr_eeprom_desc_t set = { .ee = g.eeprom_init, .offset = 0, .size = g.eeprom_init_bytes };
	/* simavr 1.6 returns -1 from this ioctl even on success, so read back instead. */
	avr_ioctl(avr, AVR_IOCTL_EEPROM_SET, &set);
	static uint8_t readback[EEPROM_HEX_BYTES_MAX];
	avr_eeprom_desc_t get = { .ee = readback, .offset = 0, .size = g.eeprom_init_bytes };
	avr_ioctl(avr, AVR_IOCTL_EEPROM_GET, &get);
	if (memcmp(readback, g.eeprom_init, g.eeprom_init_bytes) != 0)
		setup_fail("could not write the EEPROM of %s", avr->mmcu);
}

static void connect_uart(avr_t *avr)
{
	g.uart_irqs = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
	if (!g.uart_irqs)
		setup_fail("%s has no UART0", avr->mmcu);
	avr_irq_register_notify(g.uart_irqs + UART_IRQ_OUTPUT, on_uart_output, NULL);
	avr_irq_register_notify(g.uart_irqs + UART_IRQ_OUT_XON, on_uart_xon, NULL);
	avr_irq_register_notify(g.uart_irqs + UART_IRQ_OUT_XOFF, on_uart_xoff, NULL);
	/* POLL_SLEEP usleep()s on every UCSR0A read (~24 ms to the first reply); STDIO echoes
	 * firmware output as log lines. We want neither. */
	uint32_t flags = 0;
	avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
	flags &= ~(uint32_t)(AVR_UART_FLAG_POLL_SLEEP | AVR_UART_FLAG_STDIO);
	if (avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags) < 0)
		setup_fail("cannot set the UART0 flags of %s", avr->mmcu);
}

static void create_mcu(void)
{
	library_output_silence();
	if (elf_read_firmware(g.elf_path, &g_firmware) != 0)
		setup_fail("cannot load firmware from '%s'", g.elf_path);
	if (g_firmware.flashsize == 0)
		setup_fail("'%s' has no code (.text is empty)", g.elf_path);
	const char *mcu_name = g_firmware.mmcu[0] ? g_firmware.mmcu : g.mcu_option;
	avr_t *avr = avr_make_mcu_by_name(mcu_name);
	if (!avr)
		setup_fail("unknown mcu '%s'", mcu_name);
	if (avr_init(avr) != 0)
		setup_fail("cannot initialise mcu '%s'", mcu_name);
	if ((uint64_t)g_firmware.flashbase + g_firmware.flashsize > (uint64_t)avr->flashend + 1)
		setup_fail("firmware needs %u bytes of flash, %s has %u", g_firmware.flashsize, mcu_name,
		           avr->flashend + 1);
	g_firmware.frequency = g.freq_hz; /* avr_load_firmware copies it into avr->frequency */
	g_firmware.tracecount = 0;        /* never let the ELF make us write VCD trace files */
	avr_load_firmware(avr, &g_firmware);
	avr->frequency = g.freq_hz;
	load_eeprom(avr);
	connect_uart(avr);
	avr_register_io(avr, &g_reset_watch_io);
	avr->sleep = on_avr_sleep;
	library_output_to_stderr();
	if (g_firmware.mmcu[0] && g.mcu_option_given && strcmp(g_firmware.mmcu, g.mcu_option) != 0)
		fprintf(stderr, PROGRAM_NAME ": note: the ELF names mcu '%s'; --mcu %s is ignored\n",
		        g_firmware.mmcu, g.mcu_option);
	g.avr = avr;
	g.sp_lowest = (uint16_t)avr->ramend;
}

static void open_pty(void)
{
	struct termios raw;
	memset(&raw, 0, sizeof(raw));
	cfmakeraw(&raw);
	raw.c_cflag |= CLOCAL | CREAD;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (openpty(&g.master_fd, &g.slave_fd, NULL, &raw, NULL) != 0)
		fail(EXIT_SETUP_ERROR, "openpty failed: %s", strerror(errno));
	const char *path = ptsname(g.master_fd);
	if (!path || strlen(path) >= sizeof(g.slave_path))
		fail(EXIT_SETUP_ERROR, "ptsname failed");
	strcpy(g.slave_path, path);
	int master_flags = fcntl(g.master_fd, F_GETFL);
	if (master_flags < 0 || fcntl(g.master_fd, F_SETFL, master_flags | O_NONBLOCK) < 0)
		fail(EXIT_SETUP_ERROR, "cannot make the pty master non-blocking: %s", strerror(errno));
	fcntl(g.master_fd, F_SETFD, FD_CLOEXEC);
	fcntl(g.slave_fd, F_SETFD, FD_CLOEXEC);
}

int main(int argc, char **argv)
{
	install_signal_handling();
	setup_stdio();
	parse_options(argc, argv);
	inspect_elf(g.elf_path);
	create_mcu();
	open_pty();
	install_signal_handlers();
	/* Sub-microsecond wake-ups for the short emulated sleeps of a 1 Mbaud UART. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	g.stdin_open = 1;
	reply("pty %s", g.slave_path);
	pace_rebase_now();
	for (;;) { /* the one endless loop: ends on quit, stdin EOF or a signal */
		if (g.quit_requested || g_signal_received)
			break;
		if (g.halted) {
			service_io(-1);
			continue;
		}
		run_batch();
		service_io(busy_throttle_ns());
	}
	fflush(g.out);
	close(g.master_fd);
	close(g.slave_fd);
	return EXIT_CLEAN;
}
