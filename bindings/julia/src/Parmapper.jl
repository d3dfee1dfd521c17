"""
    Parmapper

Julia binding of libparmapper: map a C work function over items on fork()ed
worker processes and get the results back, in input order or as they finish.

Written against `parmapper.h` (0.3) by reading only: Julia was not available
where it was written, and this module has never been run. See README.md.

Work functions are C functions (`pm_work_fn` or `pm_chunk_fn`) from a shared
library, registered by name with [`register_c`](@ref), or Julia functions
registered with [`register`](@ref). Julia code cannot run in a forked worker:
the fork has only the calling thread, and the Julia runtime (its garbage
collector, its other threads, its signal handling) does not survive that. So a
Julia work function runs in workers started by exec (libparmapper 0.3): fresh
runs of the same program (`julia` with the same arguments), whose script
calls [`serve`](@ref) right after its registrations.
"""
module Parmapper

using Libdl

export pmap, start, Pool, Records, ParmapperError, register_c, register, registered, serve,
       cancel, processes

# ---------------------------------------------------------------------------
# The library, and the symbols this module calls, resolved once at load time.

const SYMBOLS = (
    :pm_version_number, :pm_status_str, :pm_last_error,
    :pm_options_create, :pm_options_destroy, :pm_options_set_processes,
    :pm_options_set_threads, :pm_options_set_chunk_size, :pm_options_set_ordered,
    :pm_options_set_total, :pm_options_set_error_mode, :pm_options_set_max_in_flight,
    :pm_options_set_item_timeout, :pm_options_set_retries,
    :pm_options_set_max_items_per_worker, :pm_options_set_max_worker_rss,
    :pm_options_set_progress_bar, :pm_options_set_reset_crash_signals,
    :pm_options_set_error_buffer,
    :pm_input_create_records, :pm_input_create_array, :pm_input_destroy,
    :pm_map_create, :pm_map_create_chunked, :pm_map_next_batch, :pm_map_entry_error,
    :pm_map_cancel, :pm_map_destroy,
    :pm_pool_create, :pm_pool_create_chunked, :pm_pool_map, :pm_pool_processes,
    :pm_pool_destroy,
    :pm_register_work, :pm_worker_serve, :pm_options_set_start_method,
    :pm_map_create_named, :pm_pool_create_named, :pm_sink_write, :pm_sink_set_error,
)

const LIBRARY = Ref{Ptr{Cvoid}}(C_NULL)
const SYM = Dict{Symbol,Ptr{Cvoid}}()  # written only by __init__
# The one C work function behind every Julia work function (a pm_work_fn
# whose user_data is the function's number in JULIA_FUNCS), made by __init__.
const TRAMPOLINE = Ref{Ptr{Cvoid}}(C_NULL)

function __init__()
    # PARMAPPER_LIB: a path to libparmapper.so.0; else the dynamic linker's
    # search (LD_LIBRARY_PATH, the system's directories).
    LIBRARY[] = Libdl.dlopen(get(ENV, "PARMAPPER_LIB", "libparmapper.so.0"))
    for s in SYMBOLS
        SYM[s] = Libdl.dlsym(LIBRARY[], s)
    end
    v = ccall(SYM[:pm_version_number], UInt32, ())
    v >= 300 || error("Parmapper needs libparmapper 0.3 or later; the one loaded is $(v)")
    TRAMPOLINE[] = @cfunction(julia_work, Cint, (Ptr{UInt8}, Csize_t, UInt64, Ptr{Cvoid}, Ptr{Cvoid}))
    return nothing
end

@inline sym(s::Symbol) = SYM[s]

# ---------------------------------------------------------------------------
# Status codes (parmapper.h's enum; values are pinned there).

const PM_OK = Cint(0)
const PM_DONE = Cint(1)
const PM_EINVAL = Cint(-1)
const PM_ENOMEM = Cint(-2)
const PM_ESTATE = Cint(-3)
const PM_EIO = Cint(-4)
const PM_EWORKER = Cint(-5)
const PM_ECANCELED = Cint(-6)
const PM_EINTERNAL = Cint(-7)
const PM_EITEM = Cint(-8)
const PM_EINPUT = Cint(-9)
const PM_ESYS = Cint(-10)
const PM_ETIMEOUT = Cint(-11)
const PM_EAGAIN = Cint(-12)

const PM_ERRORS_RAISE = Cint(0)
const PM_ERRORS_RETURN = Cint(1)
const PM_ERRORS_INLINE = Cint(2)
const PM_TOTAL_UNKNOWN = typemax(UInt64)

const ERROR_MODES = Dict(:raise => PM_ERRORS_RAISE, :return => PM_ERRORS_RETURN,
                         :inline => PM_ERRORS_INLINE)

const ERRBUF_LEN = 1024   # bytes of a creating call's error buffer
const BATCH = 256         # results handed over by one step at most

"""
    ParmapperError(op, status, index, message, payload)

A failure reported by libparmapper: of a call (`op` names the C function,
`index` is -1), or of an item (`index` is its position in the input, from
0). `status` is the `PM_E*` code, `message` the library's detail (for a
crash: "worker 1 (pid 4242) killed by signal 11 (SIGSEGV) while running
item 7"), `payload` the bytes the work function attached with
`pm_sink_set_error_payload()`.
"""
struct ParmapperError <: Exception
    op::String
    status::Int
    index::Int64
    message::String
    payload::Vector{UInt8}
end

status_str(status::Integer) = unsafe_string(ccall(sym(:pm_status_str), Cstring, (Cint,), status))

function Base.showerror(io::IO, e::ParmapperError)
    print(io, "parmapper: ")
    e.index >= 0 ? print(io, "item ", e.index, ": ") : print(io, e.op, ": ")
    print(io, status_str(e.status))
    isempty(e.message) || print(io, ": ", e.message)
end

# pm_last_error() is per OS thread. A Julia task moves to another thread only
# when it yields, and nothing between a ccall and this read yields, so the
# message is the call's own. Creating calls use the options' error buffer
# instead, which does not depend on threads at all.
last_error() = unsafe_string(ccall(sym(:pm_last_error), Cstring, ()))

function check(rc::Cint, op::String)
    rc < 0 && throw(ParmapperError(op, rc, -1, last_error(), UInt8[]))
    return rc
end

# ---------------------------------------------------------------------------
# Work functions, by name.

struct WorkFn
    fn::Ptr{Cvoid}            # C: the function; C_NULL for a Julia one
    chunked::Bool
    user_data::Ptr{Cvoid}
    julia::Bool               # a Julia function (in JULIA_FUNCS): exec mode only
end
WorkFn(fn, chunked, user_data) = WorkFn(fn, chunked, user_data, false)

const JULIA_FUNCS = Function[]  # by the number the trampoline gets, from 1
const SERVED = Ref(false)

const REGISTRY = Dict{String,WorkFn}()
const REGISTRY_LOCK = ReentrantLock()

"""
    register_c(name, fn::Ptr{Cvoid}; chunked=false, user_data=C_NULL)
    register_c(name, library::AbstractString, symbol::Symbol; chunked=false, user_data=C_NULL)

Make the C work function `fn` known as `name`: a `pm_work_fn`
(`int f(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)`),
or with `chunked=true` a `pm_chunk_fn`, called once per chunk. The second form
takes it from a shared library. It runs in forked worker processes (in this
process with `processes=1`) and must not call into Julia. `user_data` is given
to it as is: C memory that stays valid while maps use it.
"""
function register_c(name::AbstractString, fn::Ptr{Cvoid}; chunked::Bool=false,
                    user_data::Ptr{Cvoid}=C_NULL)
    isempty(name) && throw(ArgumentError("a work function needs a name"))
    fn == C_NULL && throw(ArgumentError("work function \"$name\" is NULL"))
    lock(REGISTRY_LOCK) do
        haskey(REGISTRY, name) && throw(ArgumentError("work function \"$name\" is already registered"))
        REGISTRY[String(name)] = WorkFn(fn, chunked, user_data)
    end
    return nothing
end

register_c(name::AbstractString, library::AbstractString, symbol::Symbol; kw...) =
    register_c(name, Libdl.dlsym(Libdl.dlopen(library), symbol); kw...)

"""
    register(name, f)

Make the Julia function `f` known as `name`: `f(item::Vector{UInt8})` returns
the item's result (a byte vector or a string); a thrown exception fails the
item, with `showerror`'s text as the message. Maps over it start their
workers by exec (`start=:exec`, the default for a Julia function; `:fork` is
refused): a worker is a fresh run of the program, which must call `register`
with the same names, then [`serve`](@ref), before anything else. With
`threads > 1` the library's own threads call `f`, which needs Julia 1.9 or
later (foreign threads); older versions refuse it. Untested: see README.md.
"""
function register(name::AbstractString, f::Function)
    isempty(name) && throw(ArgumentError("a work function needs a name"))
    lock(REGISTRY_LOCK) do
        haskey(REGISTRY, name) && throw(ArgumentError("work function \"$name\" is already registered"))
        push!(JULIA_FUNCS, f)
        id = length(JULIA_FUNCS)
        rc = ccall(sym(:pm_register_work), Cint, (Cstring, Ptr{Cvoid}, Ptr{Cvoid}),
                   String(name), TRAMPOLINE[], Ptr{Cvoid}(UInt(id)))
        if rc < 0
            pop!(JULIA_FUNCS)
            throw(ParmapperError("pm_register_work", rc, -1, last_error(), UInt8[]))
        end
        REGISTRY[String(name)] = WorkFn(C_NULL, false, C_NULL, true)
    end
    return nothing
end

# Runs a Julia work function on one item, for the library (a pm_work_fn).
function julia_work(item::Ptr{UInt8}, len::Csize_t, index::UInt64, out::Ptr{Cvoid},
                    ud::Ptr{Cvoid})::Cint
    try
        f = JULIA_FUNCS[Int(UInt(ud))]
        # The item's own copy: the C bytes die with the call.
        data = len == 0 ? UInt8[] : copy(unsafe_wrap(Array, item, Int(len)))
        r = as_bytes(f(data))
        rc = ccall(sym(:pm_sink_write), Cint, (Ptr{Cvoid}, Ptr{Cvoid}, Csize_t), out, r, length(r))
        return rc < 0 ? Cint(1) : Cint(0)
    catch e
        msg = try
            sprint(showerror, e)
        catch
            "a Julia exception"
        end
        ccall(sym(:pm_sink_set_error), Cint, (Ptr{Cvoid}, Cstring), out, replace(msg, '\0' => ' '))
        return Cint(1)
    end
end

"""
    serve()

Call it first in a script that maps Julia work functions, right after the
`register` calls (and `using Parmapper`): in a process the library started as
a worker it serves items and never returns (the process then exits); in any
other process it returns at once. Not from the REPL: a worker re-runs the
program, `julia` with the same arguments.
"""
function serve()
    args = [Base.julia_cmd().exec[1]; PROGRAM_FILE; ARGS]
    argv = Ptr{Cvoid}[pointer(a) for a in args]
    push!(argv, C_NULL)
    SERVED[] = true
    GC.@preserve args argv begin
        ccall(sym(:pm_worker_serve), Cint, (Cint, Ptr{Ptr{Cvoid}}), length(args), argv)
    end
    return nothing
end

"""The names of the registered work functions, sorted."""
registered() = lock(() -> sort!(collect(keys(REGISTRY))), REGISTRY_LOCK)

function lookup(name::AbstractString)
    w = lock(() -> get(REGISTRY, name, nothing), REGISTRY_LOCK)
    w === nothing && throw(ParmapperError("parmapper", PM_EINVAL, -1,
                                          "no work function is registered as \"$name\"", UInt8[]))
    return w
end

# ---------------------------------------------------------------------------
# Options: keyword arguments, built into a pm_options for one creating call.

# A built pm_options and the error buffer its creating calls write to; the
# buffer must outlive the handle such a call creates.
struct COptions
    ptr::Ptr{Cvoid}
    errbuf::Ptr{UInt8}
end

function build_options(; processes::Integer=0, threads::Integer=1, chunk_size::Integer=0,
                       ordered::Bool=true, total::Union{Nothing,Integer}=nothing,
                       errors::Symbol=:raise, max_in_flight::Integer=0, item_timeout::Real=0,
                       retries::Integer=0, max_items_per_worker::Integer=0,
                       max_worker_rss::Integer=0, progress_bar::Bool=false,
                       label::Union{Nothing,AbstractString}=nothing,
                       start::Symbol=:auto, work::Union{Nothing,WorkFn}=nothing,
                       name::AbstractString="")
    mode = get(ERROR_MODES, errors, nothing)
    julia_fn = work !== nothing && work.julia
    method = start_method(start, julia_fn, name,
                          errors === :inline || (processes == 1 && threads <= 1), threads)
    mode === nothing && throw(ArgumentError("errors must be :raise, :return or :inline, not :$errors"))
    item_timeout >= 0 || throw(ArgumentError("item_timeout is negative"))
    timeout_ms = item_timeout == 0 ? UInt64(0) : max(UInt64(1), UInt64(ceil(item_timeout * 1000)))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall(sym(:pm_options_create), Cint, (Ptr{Ptr{Cvoid}},), out), "pm_options_create")
    o = out[]
    errbuf = Ptr{UInt8}(Libc.malloc(ERRBUF_LEN))
    if errbuf == C_NULL
        ccall(sym(:pm_options_destroy), Cvoid, (Ptr{Cvoid},), o)
        throw(OutOfMemoryError())
    end
    unsafe_store!(errbuf, 0x00)
    try
        # Each setter's message names the setter; check() reads it at once.
        check(ccall(sym(:pm_options_set_processes), Cint, (Ptr{Cvoid}, UInt32), o, processes), "pm_options")
        check(ccall(sym(:pm_options_set_threads), Cint, (Ptr{Cvoid}, UInt32), o, threads), "pm_options")
        check(ccall(sym(:pm_options_set_chunk_size), Cint, (Ptr{Cvoid}, Csize_t), o, chunk_size), "pm_options")
        check(ccall(sym(:pm_options_set_ordered), Cint, (Ptr{Cvoid}, Cint), o, ordered), "pm_options")
        check(ccall(sym(:pm_options_set_total), Cint, (Ptr{Cvoid}, UInt64), o,
                    total === nothing ? PM_TOTAL_UNKNOWN : UInt64(total)), "pm_options")
        check(ccall(sym(:pm_options_set_error_mode), Cint, (Ptr{Cvoid}, Cint), o, mode), "pm_options")
        check(ccall(sym(:pm_options_set_max_in_flight), Cint, (Ptr{Cvoid}, Csize_t), o, max_in_flight), "pm_options")
        check(ccall(sym(:pm_options_set_item_timeout), Cint, (Ptr{Cvoid}, UInt64), o, timeout_ms), "pm_options")
        check(ccall(sym(:pm_options_set_retries), Cint, (Ptr{Cvoid}, UInt32), o, retries), "pm_options")
        check(ccall(sym(:pm_options_set_max_items_per_worker), Cint, (Ptr{Cvoid}, UInt64), o,
                    max_items_per_worker), "pm_options")
        check(ccall(sym(:pm_options_set_max_worker_rss), Cint, (Ptr{Cvoid}, UInt64), o, max_worker_rss), "pm_options")
        if progress_bar
            if label === nothing
                check(ccall(sym(:pm_options_set_progress_bar), Cint, (Ptr{Cvoid}, Cint, Ptr{UInt8}),
                            o, 1, C_NULL), "pm_options")
            else
                check(ccall(sym(:pm_options_set_progress_bar), Cint, (Ptr{Cvoid}, Cint, Cstring),
                            o, 1, String(label)), "pm_options")
            end
        end
        # Julia handles SIGSEGV itself (safepoints, stack overflow): in a
        # worker that would hide a crash of the C work function. A Julia
        # work function needs those handlers (a safepoint is a SIGSEGV).
        julia_fn || check(ccall(sym(:pm_options_set_reset_crash_signals), Cint, (Ptr{Cvoid}, Cint),
                                o, 1), "pm_options")
        method < 0 || check(ccall(sym(:pm_options_set_start_method), Cint, (Ptr{Cvoid}, Cint),
                                  o, method), "pm_options")
        check(ccall(sym(:pm_options_set_error_buffer), Cint, (Ptr{Cvoid}, Ptr{UInt8}, Csize_t),
                    o, errbuf, ERRBUF_LEN), "pm_options")
    catch
        ccall(sym(:pm_options_destroy), Cvoid, (Ptr{Cvoid},), o)
        Libc.free(errbuf)
        rethrow()
    end
    return COptions(o, errbuf)
end

release(o::COptions) = ccall(sym(:pm_options_destroy), Cvoid, (Ptr{Cvoid},), o.ptr)

const PM_START_FORK = Cint(0)
const PM_START_EXEC = Cint(1)

# The start method to set (-1: the library's, from PARMAPPER_START, else
# fork), or an error for a Julia function that cannot run that way.
function start_method(start::Symbol, julia_fn::Bool, name, in_process::Bool, threads)
    start in (:auto, :fork, :exec) || throw(ArgumentError("start must be :auto, :fork or :exec, not :$start"))
    if julia_fn && start === :fork
        throw(ArgumentError("work function \"$name\" is a Julia function, which runs only in " *
                            "workers started by exec (start=:exec or :auto): a forked Julia hangs"))
    end
    exec = start === :exec || (start === :auto && (julia_fn || get(ENV, "PARMAPPER_START", "") == "exec"))
    if exec && !in_process && !SERVED[]
        throw(ParmapperError("parmapper", PM_ESTATE, -1,
                             "work function \"$name\" needs workers started by exec, and " *
                             "Parmapper.serve() was not called (call it first in the script)", UInt8[]))
    end
    if julia_fn && !in_process && threads > 1 && VERSION < v"1.9"
        throw(ArgumentError("threads > 1 with a Julia work function needs Julia 1.9 or later"))
    end
    return start === :fork ? PM_START_FORK : exec ? PM_START_EXEC : Cint(-1)
end

# ---------------------------------------------------------------------------
# Inputs: copied into C memory (the C API keeps an array input's pointer
# until the map is destroyed, and Julia's collector may move nothing but
# may free it), freed after pm_map_destroy().

"""
    Records(xs::AbstractVector{T})

Fixed-size records: item i is the bytes of `xs[i]` (`sizeof(T)` of them; `T`
must be an isbits type).
"""
struct Records{T}
    xs::Vector{T}
    function Records(xs::AbstractVector{T}) where {T}
        isbitstype(T) || throw(ArgumentError("Records needs an isbits element type, not $T"))
        return new{T}(collect(xs))
    end
end

struct CInput
    ptr::Ptr{Cvoid}
    keep::Ptr{Cvoid}
    count::Int
end

as_bytes(x::AbstractVector{UInt8}) = x isa Vector{UInt8} ? x : Vector{UInt8}(x)
as_bytes(x::AbstractString) = Vector{UInt8}(codeunits(String(x)))

function build_input(items::AbstractVector)
    bytes = [as_bytes(x) for x in items]
    n = length(bytes)
    total = sum(length, bytes; init=0)
    keep = Libc.malloc(max(total, 1))
    keep == C_NULL && throw(OutOfMemoryError())
    ptrs = Vector{Ptr{Cvoid}}(undef, n)
    lens = Vector{Csize_t}(undef, n)
    off = 0
    for (k, b) in enumerate(bytes)
        GC.@preserve b unsafe_copyto!(Ptr{UInt8}(keep) + off, pointer(b), length(b))
        ptrs[k] = keep + off
        lens[k] = length(b)
        off += length(b)
    end
    out = Ref{Ptr{Cvoid}}(C_NULL)
    # The two tables are copied by the call; the bytes stay in keep.
    rc = ccall(sym(:pm_input_create_records), Cint,
               (Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}, Ptr{Csize_t}, Csize_t), out, ptrs, lens, n)
    if rc < 0
        err = ParmapperError("pm_input_create_records", rc, -1, last_error(), UInt8[])
        Libc.free(keep)
        throw(err)
    end
    return CInput(out[], keep, n)
end

function build_input(r::Records{T}) where {T}
    n = length(r.xs)
    size = sizeof(T)
    keep = Libc.malloc(max(n * size, 1))
    keep == C_NULL && throw(OutOfMemoryError())
    xs = r.xs
    GC.@preserve xs unsafe_copyto!(Ptr{UInt8}(keep), Ptr{UInt8}(pointer(xs)), n * size)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    rc = ccall(sym(:pm_input_create_array), Cint, (Ptr{Ptr{Cvoid}}, Ptr{Cvoid}, Csize_t, Csize_t),
               out, keep, size, n)
    if rc < 0
        err = ParmapperError("pm_input_create_array", rc, -1, last_error(), UInt8[])
        Libc.free(keep)
        throw(err)
    end
    return CInput(out[], keep, n)
end

# ---------------------------------------------------------------------------
# A running map.

"""
One item's outcome: `index` (from 0), `data` (its result bytes), and with
`errors=:return`, `error` (a `ParmapperError`, `data` then empty).
"""
struct Result
    index::Int64
    data::Vector{UInt8}
    error::Union{Nothing,ParmapperError}
end

"""
    MapStream

A running map, iterated for its `Result`s. Iteration throws the map's
failure (`errors=:raise`) after the results before it, or when `timeout`
passes. Close it with `close` (or iterate it inside `start(...) do s ...
end`); a finalizer closes a forgotten one, later.
"""
mutable struct MapStream
    ptr::Ptr{Cvoid}
    errbuf::Ptr{UInt8}
    keep::Ptr{Cvoid}
    count::Int
    poll_ms::Cint
    deadline::Float64
    pool::Any                # the Pool whose lock guards pm_map_destroy, or nothing
    indices::Vector{UInt64}
    statuses::Vector{Cint}
    data::Vector{Ptr{Cvoid}}
    lens::Vector{Csize_t}
    pending::Vector{Result}
    pos::Int
    over::Bool
    error::Union{Nothing,ParmapperError}
end

function MapStream(ptr, errbuf, input::CInput, poll_ms, timeout, pool)
    s = MapStream(ptr, errbuf, input.keep, input.count, Cint(poll_ms),
                  isfinite(timeout) ? time() + timeout : Inf, pool,
                  zeros(UInt64, BATCH), zeros(Cint, BATCH), fill(C_NULL, BATCH),
                  zeros(Csize_t, BATCH), Result[], 1, false, nothing)
    # A safety net only: close() is the way. pm_map_destroy may wait (a pool
    # map's workers get up to a second), and a pool map needs its pool's
    # lock, so the finalizer hands the work to a task.
    finalizer(s) do s
        s.ptr == C_NULL || @async close(s)
    end
    return s
end

Base.IteratorSize(::Type{MapStream}) = Base.SizeUnknown()
Base.eltype(::Type{MapStream}) = Result

function Base.iterate(s::MapStream, state=nothing)
    while s.pos > length(s.pending)
        if s.over || s.ptr == C_NULL
            s.error === nothing || throw(s.error)
            return nothing
        end
        step!(s)
    end
    r = s.pending[s.pos]
    s.pos += 1
    return (r, nothing)
end

# One pm_map_next_batch() call, waiting at most poll_ms, then a yield so that
# other tasks, an InterruptException (Ctrl-C) and the collector get in.
function step!(s::MapStream)
    if time() > s.deadline
        cancel(s)
        s.over = true
        s.error = ParmapperError("parmapper", PM_ECANCELED, -1, "the map ran past its timeout", UInt8[])
        return
    end
    n = Ref{Csize_t}(0)
    rc = ccall(sym(:pm_map_next_batch), Cint,
               (Ptr{Cvoid}, Csize_t, Cint, Ptr{UInt64}, Ptr{Cint}, Ptr{Ptr{Cvoid}}, Ptr{Csize_t},
                Ptr{Csize_t}),
               s.ptr, BATCH, s.poll_ms, s.indices, s.statuses, s.data, s.lens, n)
    k = Int(n[])
    if rc == PM_EAGAIN
        yield()
    elseif rc == PM_OK || rc == PM_DONE
        take_entries!(s, k)
        rc == PM_DONE && (s.over = true)
    else
        # A final failure: its entry is the last, the ones before are results.
        s.over = true
        if k == 0  # PM_EINVAL, PM_ESTATE: the message is this thread's, read now
            s.error = ParmapperError("pm_map_next_batch", rc, -1, last_error(), UInt8[])
        else
            take_entries!(s, k - 1)
            s.error = entry_error(s, k - 1, true)
        end
    end
    return
end

function take_entries!(s::MapStream, k::Int)
    empty!(s.pending)
    s.pos = 1
    for i in 1:k
        if s.statuses[i] == PM_OK
            len = Int(s.lens[i])
            data = Vector{UInt8}(undef, len)
            len > 0 && unsafe_copyto!(pointer(data), Ptr{UInt8}(s.data[i]), len)
            push!(s.pending, Result(Int64(s.indices[i]), data, nothing))
        else
            push!(s.pending, Result(Int64(s.indices[i]), UInt8[], entry_error(s, i - 1, false)))
        end
    end
end

# Entry i (from 0) of the last step as a ParmapperError.
function entry_error(s::MapStream, i::Int, final::Bool)
    status = Int(s.statuses[i+1])
    index = Int64(s.indices[i+1])
    if final && status in (PM_ECANCELED, PM_ESYS, PM_ENOMEM, PM_EINTERNAL)
        index = -1
    end
    message = unsafe_string(ccall(sym(:pm_map_entry_error), Cstring, (Ptr{Cvoid}, Csize_t), s.ptr, i))
    len = Int(s.lens[i+1])
    payload = len > 0 ? copy(unsafe_wrap(Array, Ptr{UInt8}(s.data[i+1]), len; own=false)) : UInt8[]
    return ParmapperError("pm_map_next_batch", status, index, message, payload)
end

"""
    cancel(s::MapStream)

Cancel the map: its workers are killed, and iteration ends with a
`PM_ECANCELED` error. May be called from another task while the stream is
open (the C call is thread-safe), not after `close`.
"""
function cancel(s::MapStream)
    s.ptr == C_NULL || ccall(sym(:pm_map_cancel), Cint, (Ptr{Cvoid},), s.ptr)
    return nothing
end

"""
    close(s::MapStream)

Stop the map if it is not over (a one-shot map's workers are killed and
reaped at once) and free everything. Safe to call more than once.
"""
function Base.close(s::MapStream)
    s.ptr == C_NULL && return nothing
    ptr = s.ptr
    s.over || ccall(sym(:pm_map_cancel), Cint, (Ptr{Cvoid},), ptr)
    if s.pool === nothing
        ccall(sym(:pm_map_destroy), Cvoid, (Ptr{Cvoid},), ptr)
    else
        lock(s.pool.lock) do
            ccall(sym(:pm_map_destroy), Cvoid, (Ptr{Cvoid},), ptr)
        end
    end
    s.ptr = C_NULL
    s.over = true
    Libc.free(s.keep)
    Libc.free(s.errbuf)
    s.keep = C_NULL
    s.errbuf = C_NULL
    return nothing
end

function create_map(w::WorkFn, o::COptions, input::CInput, name::AbstractString)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    if w.julia
        rc = ccall(sym(:pm_map_create_named), Cint, (Ptr{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Cvoid}, Cstring),
                   out, o.ptr, input.ptr, String(name))
        rc < 0 && throw(ParmapperError("pm_map_create_named", rc, -1, unsafe_string(o.errbuf), UInt8[]))
        return out[]
    end
    f = w.chunked ? :pm_map_create_chunked : :pm_map_create
    # The input is consumed whatever happens; a failure's message is in the
    # options' error buffer.
    rc = ccall(sym(f), Cint, (Ptr{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}),
               out, o.ptr, input.ptr, w.fn, w.user_data, C_NULL)
    rc < 0 && throw(ParmapperError(String(f), rc, -1, unsafe_string(o.errbuf), UInt8[]))
    return out[]
end

"""
    start(work, items; poll=0.05, timeout=Inf, options...) -> MapStream
    start(f, work, items; ...)        # do-block form: closes the stream after f

Start a map of the work function registered as `work` over `items` (a
vector of byte vectors or strings, or `Records(xs)`), forking its workers
now (unless `processes=1`). Options: `processes` (0: one per CPU),
`threads`, `chunk_size` (0: automatic), `ordered`, `errors` (`:raise`,
`:return`, `:inline`), `max_in_flight`, `item_timeout` (seconds), `retries`,
`max_items_per_worker`, `max_worker_rss` (bytes), `progress_bar`, `label`.
`poll` is how long one step waits before yielding; `timeout` (seconds)
cancels the map when it runs longer.
"""
function start(work::AbstractString, items; poll::Real=0.05, timeout::Real=Inf, kw...)
    w = lookup(work)
    o = build_options(; work=w, name=work, kw...)
    local input::CInput
    try
        input = build_input(items)
    catch
        release(o)
        Libc.free(o.errbuf)
        rethrow()
    end
    ptr = try
        create_map(w, o, input, work)
    catch
        Libc.free(input.keep)
        Libc.free(o.errbuf)
        rethrow()
    finally
        release(o)
    end
    return MapStream(ptr, o.errbuf, input, poll_ms(poll), timeout, nothing)
end

function start(f::Function, args...; kw...)
    s = start(args...; kw...)
    try
        return f(s)
    finally
        close(s)
    end
end

poll_ms(poll::Real) = Cint(clamp(round(Int, poll * 1000), 1, 1 << 30))

"""
    pmap(work, items; options...) -> Vector

Run the work function registered as `work` over `items` and return the
results, element i being item i's whatever the order: a `Vector{UInt8}`, or
with `errors=:return` a `ParmapperError` for an item that failed. In
`:raise` mode (the default) the first failure is thrown. Nothing of the map
is left when it returns or throws (an `InterruptException` included).
"""
pmap(work::AbstractString, items; kw...) = start(s -> collect_results(s), work, items; kw...)

function collect_results(s::MapStream)
    n = s.count
    out = Vector{Union{Nothing,Vector{UInt8},ParmapperError}}(nothing, n)
    anyfailed = false
    for r in s
        0 <= r.index < n && out[r.index+1] === nothing ||
            throw(ParmapperError("parmapper", PM_EINTERNAL, r.index,
                                 "a result for an item that is not in the input, or twice", UInt8[]))
        out[r.index+1] = r.error === nothing ? r.data : r.error
        anyfailed |= r.error !== nothing
    end
    i = findfirst(isnothing, out)
    i === nothing || throw(ParmapperError("parmapper", PM_EINTERNAL, i - 1,
                                          "the map ended without a result for this item", UInt8[]))
    return anyfailed ? Vector{Union{Vector{UInt8},ParmapperError}}(out) : Vector{Vector{UInt8}}(out)
end

# ---------------------------------------------------------------------------
# Pools.

"""
    Pool(work; processes=0, threads=1, errors=:raise)

Worker processes forked once, with the work function registered as `work`,
that run several maps one after the other (`pmap(pool, items)`,
`start(pool, items)`). `errors=:inline` makes an in-process pool. Close it
with `close`; a finalizer closes a forgotten one, later.
"""
mutable struct Pool
    ptr::Ptr{Cvoid}
    errbuf::Ptr{UInt8}
    lock::ReentrantLock  # pm_pool_map and destroys are one at a time
    work::String
end

function Pool(work::AbstractString; kw...)
    w = lookup(work)
    o = build_options(; work=w, name=work, kw...)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    f = w.chunked ? :pm_pool_create_chunked : :pm_pool_create
    rc = try
        if w.julia
            f = :pm_pool_create_named
            ccall(sym(:pm_pool_create_named), Cint, (Ptr{Ptr{Cvoid}}, Ptr{Cvoid}, Cstring),
                  out, o.ptr, String(work))
        else
            ccall(sym(f), Cint, (Ptr{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}),
                  out, o.ptr, w.fn, w.user_data, C_NULL)
        end
    finally
        release(o)
    end
    if rc < 0
        err = ParmapperError(String(f), rc, -1, unsafe_string(o.errbuf), UInt8[])
        Libc.free(o.errbuf)
        throw(err)
    end
    # The pool keeps its options' error buffer: it lives as long.
    p = Pool(out[], o.errbuf, ReentrantLock(), String(work))
    finalizer(p) do p
        p.ptr == C_NULL || @async close(p)
    end
    return p
end

"""Number of live worker processes of the pool (0 in-process)."""
processes(p::Pool) = lock(p.lock) do
    p.ptr == C_NULL ? 0 : Int(ccall(sym(:pm_pool_processes), UInt32, (Ptr{Cvoid},), p.ptr))
end

function start(p::Pool, items; poll::Real=0.05, timeout::Real=Inf, kw...)
    o = build_options(; work=lookup(p.work), name=p.work, kw...)
    local input::CInput
    try
        input = build_input(items)
    catch
        release(o)
        Libc.free(o.errbuf)
        rethrow()
    end
    out = Ref{Ptr{Cvoid}}(C_NULL)
    rc, closed = try
        lock(p.lock) do
            if p.ptr == C_NULL
                ccall(sym(:pm_input_destroy), Cvoid, (Ptr{Cvoid},), input.ptr)
                (PM_ESTATE, true)
            else
                (ccall(sym(:pm_pool_map), Cint, (Ptr{Ptr{Cvoid}}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}),
                       out, p.ptr, o.ptr, input.ptr), false)
            end
        end
    finally
        release(o)
    end
    if rc < 0
        msg = closed ? "the pool is closed" : unsafe_string(o.errbuf)
        Libc.free(input.keep)
        Libc.free(o.errbuf)
        throw(ParmapperError("pm_pool_map", rc, -1, msg, UInt8[]))
    end
    return MapStream(out[], o.errbuf, input, poll_ms(poll), timeout, p)
end

pmap(p::Pool, items; kw...) = start(s -> collect_results(s), p, items; kw...)

"""
    close(p::Pool)

Stop the pool's workers (they finish their chunk; killed after a second) and
reap them. A stream of the pool still open keeps working until it is
closed. Safe to call more than once.
"""
function Base.close(p::Pool)
    lock(p.lock) do
        p.ptr == C_NULL && return nothing
        ccall(sym(:pm_pool_destroy), Cvoid, (Ptr{Cvoid},), p.ptr)
        p.ptr = C_NULL
        # pm_pool_map() is always given options of its own here, so nothing
        # reads the pool's error buffer once the pool is gone.
        Libc.free(p.errbuf)
        p.errbuf = C_NULL
    end
    return nothing
end

end # module
