# Tests of the Julia binding. NEVER RUN: Julia could not be installed where
# this was written. They need a C compiler and pkg-config for libparmapper
# (PKG_CONFIG_PATH, LD_LIBRARY_PATH or PARMAPPER_LIB as in README.md).
using Test
using Libdl
using Parmapper
using Parmapper: ParmapperError, PM_EITEM, PM_EWORKER, PM_EINVAL, PM_ESTATE, PM_ECANCELED,
                 PM_ETIMEOUT

# Julia work functions, registered before serve(): a worker is a fresh run of
# this very script, which must register the same names and then serve.
register("jl.reverse", item -> reverse(item))
register("jl.command", function (item)
    cmd, arg = let s = String(item); i = findfirst(':', s)
        i === nothing ? (s, "") : (s[1:i-1], s[i+1:end])
    end
    cmd == "ok" && return arg
    cmd == "throw" && error(arg)
    cmd == "exit" && exit(parse(Int, arg))
    cmd == "pid" && return string(getpid())
    cmd == "gc" && (GC.gc(); return string(getpid()))
    error("unknown command $cmd")
end)
Parmapper.serve()

# Build test/work.c into a shared library and register its functions.
const WORKLIB = let dir = mktempdir()
    so = joinpath(dir, "libjlwork.so")
    cflags = split(readchomp(`pkg-config --cflags parmapper`))
    libs = split(readchomp(`pkg-config --libs parmapper`))
    run(`cc -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -shared -fPIC -o $so $(joinpath(@__DIR__, "work.c")) $cflags $libs`)
    so
end
register_c("fnv", WORKLIB, :jlwork_fnv)
register_c("fnv_chunk", WORKLIB, :jlwork_fnv_chunk; chunked=true)
register_c("command", WORKLIB, :jlwork_command)

# What jlwork_fnv computes, in Julia.
function fnv(item::Vector{UInt8}, index::Integer)
    h = 0xcbf29ce484222325
    for b in reinterpret(UInt8, [htol(UInt64(index))])
        h = (h ⊻ b) * 0x00000100000001b3
    end
    for b in item
        h = (h ⊻ b) * 0x00000100000001b3
    end
    return collect(reinterpret(UInt8, [htol(h)]))
end

open_fds() = Set(readdir("/proc/self/fd"))

# true when the process has no child at all, running or zombie.
function no_children()
    status = Ref{Cint}(0)
    pid = ccall(:waitpid, Cint, (Cint, Ptr{Cint}, Cint), -1, status, 1)  # WNOHANG
    return pid == -1 && Libc.errno() == Libc.ECHILD
end

function clean(f)
    open_fds()
    before = open_fds()
    f()
    @test no_children()
    @test open_fds() == before
end

items = [rand(UInt8, rand(0:40)) for _ in 1:300]
expected = [fnv(items[i], i - 1) for i in eachindex(items)]

@testset "results equal the serial computation" begin
    clean() do
        for work in ("fnv", "fnv_chunk"), processes in (1, 2, 3), ordered in (true, false),
            chunk_size in (0, 1, 7, 1000)
            @test pmap(work, items; processes, ordered, chunk_size) == expected
            if !ordered
                seen = Int64[]
                start(work, items; processes, ordered, chunk_size) do s
                    for r in s
                        @test r.data == expected[r.index+1]
                        push!(seen, r.index)
                    end
                end
                @test sort(seen) == 0:length(items)-1
            end
        end
        vals = [1.5, -2.0, 3.0]
        @test length(pmap("fnv", Records(vals); processes=2)) == 3
        @test pmap("fnv", Vector{UInt8}[]; processes=2) == Vector{UInt8}[]
    end
end

@testset "errors: raise and return" begin
    clean() do
        cmds = ["ok:a", "ok:b", "fail:two", "ok:d", "segv", "ok:f"]
        e = try
            pmap("command", cmds; processes=2, chunk_size=1)
            nothing
        catch err
            err
        end
        @test e isa ParmapperError
        @test e.status == PM_EITEM && e.index == 2 && e.message == "two"
        @test String(copy(e.payload)) == "payload:two"
        got = pmap("command", cmds; processes=2, chunk_size=1, errors=:return)
        @test String(got[1]) == "a" && String(got[6]) == "f"
        @test got[3] isa ParmapperError && got[3].message == "two"
        @test got[5] isa ParmapperError && got[5].status == PM_EWORKER
        @test occursin("killed by signal 11 (SIGSEGV) while running item 4", got[5].message)
    end
end

@testset "a crash is reported with its signal and index" begin
    clean() do
        for (cmd, want) in (("segv", "killed by signal 11 (SIGSEGV)"),
                            ("abort", "killed by signal 6 (SIGABRT)"),
                            ("exit:3", "exited with status 3"))
            e = try
                pmap("command", ["ok:a", cmd, "ok:c"]; processes=2, chunk_size=1)
                nothing
            catch err
                err
            end
            @test e isa ParmapperError && e.status == PM_EWORKER && e.index == 1
            @test occursin(want * " while running item 1", e.message)
        end
    end
end

@testset "timeouts and cancellation of stuck work functions" begin
    clean() do
        e = try
            pmap("command", ["ok:a", "hang"]; processes=2, chunk_size=1, item_timeout=0.2)
            nothing
        catch err
            err
        end
        @test e isa ParmapperError && e.status == PM_ETIMEOUT && e.index == 1
        t0 = time()
        e = try
            pmap("command", fill("hang", 4); processes=2, chunk_size=1, timeout=0.3)
            nothing
        catch err
            err
        end
        @test e isa ParmapperError && e.status == PM_ECANCELED
        @test time() - t0 < 1.5
        # From another task.
        s = start("command", fill("hang", 4); processes=2, chunk_size=1)
        t = @async (sleep(0.2); cancel(s))
        e = try
            collect(s)
            nothing
        catch err
            err
        end
        wait(t)
        close(s)
        @test e isa ParmapperError && e.status == PM_ECANCELED
    end
end

@testset "pools" begin
    clean() do
        pool = Pool("command"; processes=2)
        try
            @test processes(pool) == 2
            for k in 1:3
                @test_throws ParmapperError pmap(pool, ["ok:a", "segv"]; chunk_size=1)
                @test String.(pmap(pool, ["ok:x", "ok:y"])) == ["x", "y"]
            end
            @test processes(pool) == 2
            s = start(pool, ["ok:a"])
            e = try
                start(pool, ["ok:b"])
                nothing
            catch err
                err
            end
            close(s)
            @test e isa ParmapperError && e.status == PM_ESTATE
            @test e.message == "pm_pool_map: another map of this pool is still alive"
        finally
            close(pool)
        end
        close(pool)
    end
end

@testset "bad arguments" begin
    @test_throws ParmapperError pmap("no.such", ["x"])
    e = try
        pmap("fnv", [UInt8[1]]; threads=5000)
        nothing
    catch err
        err
    end
    @test e isa ParmapperError && e.status == PM_EINVAL
    @test e.message == "pm_options_set_threads: need 1 to PM_MAX_THREADS threads"
    @test_throws ArgumentError register_c("fnv", WORKLIB, :jlwork_fnv)
    @test_throws ArgumentError pmap("fnv", [UInt8[1]]; errors=:sometimes)
end

@testset "messages from many tasks on many threads stay their own" begin
    kinds = [(; threads=5000) => "pm_options_set_threads: need 1 to PM_MAX_THREADS threads",
             (; processes=1025) => "pm_options_set_processes: more than PM_MAX_PROCESSES",
             (; retries=1001) => "pm_options_set_retries: more than 1000"]
    wrong = Threads.Atomic{Int}(0)
    @sync for g in 1:12
        Threads.@spawn begin
            opts, msg = kinds[mod1(g, length(kinds))]
            for _ in 1:1000
                try
                    start("fnv", [UInt8[1]]; opts...)
                    Threads.atomic_add!(wrong, 1)
                catch err
                    (err isa ParmapperError && err.message == msg) || Threads.atomic_add!(wrong, 1)
                end
                yield()
            end
        end
    end
    @test wrong[] == 0
end

@testset "Julia work functions in exec-started workers" begin
    fds = open_fds()
    items = [Vector{UInt8}("item $i") for i in 1:1000]
    @test pmap("jl.reverse", items; processes=2) == reverse.(items)
    r = pmap("jl.command", ["ok:a", "throw:bad", "pid", "gc"]; processes=2, chunk_size=1,
             errors=:return)
    @test r[1] == Vector{UInt8}("a")
    @test r[2] isa ParmapperError && r[2].status == PM_EITEM && occursin("bad", r[2].message)
    @test parse(Int, String(r[3])) != getpid()
    err = try
        pmap("jl.command", ["ok:a", "exit:3"]; processes=2, chunk_size=1); nothing
    catch e
        e
    end
    @test err isa ParmapperError && err.status == PM_EWORKER && occursin("exited with status 3", err.message)
    @test_throws ArgumentError pmap("jl.reverse", items; processes=2, start=:fork)
    pool = Pool("jl.reverse"; processes=2)
    try
        @test pmap(pool, items) == reverse.(items)
    finally
        close(pool)
    end
    @test open_fds() == fds
    @test no_children()
end
