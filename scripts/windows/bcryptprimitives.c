/*
 * A stand-in for Windows' bcryptprimitives.dll, for running tests under wine 8.
 *
 * Rust's std (1.78 and later) imports ProcessPrng from bcryptprimitives.dll, which wine 8.0
 * does not ship: every Rust program then dies at load time (status 53). This DLL exports
 * ProcessPrng and forwards it to RtlGenRandom (advapi32's SystemFunction036), which wine has.
 * scripts/test-windows.sh builds it with the mingw gcc into the private wine prefix's
 * system32. It is never part of anything shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
