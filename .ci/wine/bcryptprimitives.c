/* A stand-in for Windows 10's bcryptprimitives.dll under Wine 8, which lacks it: Rust's std
 * (1.78 and later) gets its random bytes (HashMap keys) from ProcessPrng there, and a test
 * binary without it does not start. ProcessPrng is given over RtlGenRandom
 * (SystemFunction036 in advapi32), which Wine has. Built by .ci/run into the Wine prefix. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
