(module
  (type (;0;) (func (result i64)))
  (type (;1;) (func (param i32 i64)))
  (type (;2;) (func (param i32 i32) (result i32)))
  (type (;3;) (func (param i32 i32 i32 i32) (result i32)))
  (type (;4;) (func (param i64 i64) (result i32)))
  (type (;5;) (func (param i32 i64) (result i32)))
  (type (;6;) (func))
  (type (;7;) (func (param i64)))
  (type (;8;) (func (param i32 i32)))
  (type (;9;) (func (param i32) (result f64)))
  (type (;10;) (func (param i32) (result i32)))
  (type (;11;) (func (param i32 i32) (result i64)))
  (type (;12;) (func (param i64) (result i32)))
  (type (;13;) (func (param i64) (result i64)))
  (type (;14;) (func (param i64 i64) (result i64)))
  (type (;15;) (func (param i32)))
  (type (;16;) (func (result i32)))
  (type (;17;) (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "erynoa:ecl/budget@0.1.0" "gas-left" (func (;0;) (type 0)))
  (import "erynoa:ecl/budget@0.1.0" "consume-gas" (func (;1;) (type 1)))
  (import "erynoa:ecl/context@0.1.0" "timestamp" (func (;2;) (type 0)))
  (memory (;0;) 1)
  (global (;0;) (mut i32) i32.const 1744)
  (global (;1;) (mut i64) i64.const 0)
  (global (;2;) (mut i64) i64.const 0)
  (global (;3;) (mut i32) i32.const 0)
  (global (;4;) (mut i64) i64.const 0)
  (global (;5;) (mut i64) i64.const 0)
  (global (;6;) (mut i64) i64.const 0)
  (global (;7;) (mut i64) i64.const 0)
  (global (;8;) (mut i32) i32.const 0)
  (global (;9;) (mut i32) i32.const 0)
  (global (;10;) (mut i32) i32.const 0)
  (global (;11;) (mut i64) i64.const 0)
  (global (;12;) (mut i64) i64.const 0)
  (export "memory" (memory 0))
  (export "cabi_realloc" (func 4))
  (export "erynoa:ecl/policy@0.1.0#metadata" (func 26))
  (export "erynoa:ecl/policy@0.1.0#evaluate" (func 27))
  (func (;3;) (type 2) (param i32 i32) (result i32)
    (local i32 i32)
    global.get 0
    local.get 1
    i32.add
    i32.const 1
    i32.sub
    i32.const 0
    local.get 1
    i32.sub
    i32.and
    local.tee 2
    local.get 0
    i32.add
    local.tee 3
    memory.size
    i32.const 16
    i32.shl
    i32.gt_u
    if ;; label = @1
      local.get 3
      memory.size
      i32.const 16
      i32.shl
      i32.sub
      i32.const 65535
      i32.add
      i32.const 16
      i32.shr_u
      memory.grow
      i32.const -1
      i32.eq
      if ;; label = @2
        unreachable
      end
    end
    local.get 3
    global.set 0
    local.get 2
  )
  (func (;4;) (type 3) (param i32 i32 i32 i32) (result i32)
    (local i32)
    local.get 3
    local.get 2
    call 3
    local.set 4
    local.get 0
    if ;; label = @1
      local.get 4
      local.get 0
      local.get 1
      local.get 3
      local.get 1
      local.get 3
      i32.lt_u
      select
      memory.copy
    end
    local.get 4
  )
  (func (;5;) (type 4) (param i64 i64) (result i32)
    (local i32 i32 i32 i32)
    local.get 0
    i32.wrap_i64
    local.tee 4
    local.get 1
    i32.wrap_i64
    i32.ne
    if ;; label = @1
      i32.const 0
      return
    end
    local.get 0
    i64.const 32
    i64.shr_u
    i32.wrap_i64
    local.set 2
    local.get 1
    i64.const 32
    i64.shr_u
    i32.wrap_i64
    local.set 3
    block ;; label = @1
      loop ;; label = @2
        local.get 5
        local.get 4
        i32.ge_u
        br_if 1 (;@1;)
        local.get 2
        local.get 5
        i32.add
        i32.load8_u
        local.get 3
        local.get 5
        i32.add
        i32.load8_u
        i32.ne
        if ;; label = @3
          i32.const 0
          return
        end
        local.get 5
        i32.const 1
        i32.add
        local.set 5
        br 0 (;@2;)
      end
    end
    i32.const 1
  )
  (func (;6;) (type 4) (param i64 i64) (result i32)
    (local i32 i32 i32 i32)
    local.get 0
    i64.const 32
    i64.shr_u
    i32.wrap_i64
    local.set 2
    local.get 0
    i32.wrap_i64
    local.set 3
    local.get 1
    i32.wrap_i64
    local.set 4
    block ;; label = @1
      loop ;; label = @2
        local.get 5
        local.get 4
        i32.add
        local.get 3
        i32.gt_u
        br_if 1 (;@1;)
        local.get 2
        local.get 5
        i32.add
        i64.extend_i32_u
        i64.const 32
        i64.shl
        local.get 4
        i64.extend_i32_u
        i64.or
        local.get 1
        call 5
        if ;; label = @3
          i32.const 1
          return
        end
        local.get 5
        i32.const 1
        i32.add
        local.set 5
        br 0 (;@2;)
      end
    end
    i32.const 0
  )
  (func (;7;) (type 2) (param i32 i32) (result i32)
    i32.const 1
    local.get 0
    f64.load
    local.get 1
    f64.load
    f64.eq
    i32.and
    local.get 0
    f64.load offset=8
    local.get 1
    f64.load offset=8
    f64.eq
    i32.and
    local.get 0
    f64.load offset=16
    local.get 1
    f64.load offset=16
    f64.eq
    i32.and
    local.get 0
    f64.load offset=24
    local.get 1
    f64.load offset=24
    f64.eq
    i32.and
    local.get 0
    f64.load offset=32
    local.get 1
    f64.load offset=32
    f64.eq
    i32.and
    local.get 0
    f64.load offset=40
    local.get 1
    f64.load offset=40
    f64.eq
    i32.and
  )
  (func (;8;) (type 2) (param i32 i32) (result i32)
    (local i32 i32 i32)
    local.get 0
    i32.load
    local.tee 2
    local.get 1
    i32.load
    i32.ne
    if ;; label = @1
      i32.const 0
      return
    end
    local.get 2
    i32.eqz
    if ;; label = @1
      i32.const 1
      return
    end
    local.get 2
    i32.const 2
    i32.eq
    if ;; label = @1
      local.get 0
      f64.load offset=8
      local.get 1
      f64.load offset=8
      f64.eq
      return
    end
    local.get 2
    i32.const 3
    i32.eq
    local.get 2
    i32.const 4
    i32.eq
    i32.or
    if ;; label = @1
      local.get 0
      i64.load offset=8
      local.get 1
      i64.load offset=8
      call 5
      return
    end
    local.get 2
    i32.const 5
    i32.eq
    if ;; label = @1
      local.get 0
      i32.load offset=8
      local.get 1
      i32.load offset=8
      call 7
      return
    end
    local.get 2
    i32.const 6
    i32.eq
    if ;; label = @1
      local.get 0
      i32.load offset=8
      i32.load
      local.tee 3
      local.get 1
      i32.load offset=8
      i32.load
      i32.ne
      if ;; label = @2
        i32.const 0
        return
      end
      block ;; label = @2
        loop ;; label = @3
          local.get 4
          local.get 3
          i32.ge_u
          br_if 1 (;@2;)
          local.get 0
          i32.load offset=8
          i32.const 8
          i32.add
          local.get 4
          i32.const 16
          i32.mul
          i32.add
          local.get 1
          i32.load offset=8
          i32.const 8
          i32.add
          local.get 4
          i32.const 16
          i32.mul
          i32.add
          call 8
          i32.eqz
          if ;; label = @4
            i32.const 0
            return
          end
          local.get 4
          i32.const 1
          i32.add
          local.set 4
          br 0 (;@3;)
        end
      end
      i32.const 1
      return
    end
    local.get 0
    i64.load offset=8
    local.get 1
    i64.load offset=8
    i64.eq
  )
  (func (;9;) (type 5) (param i32 i64) (result i32)
    (local i32)
    i32.const 16
    i32.const 8
    call 3
    local.tee 2
    local.get 0
    i32.store
    local.get 2
    local.get 1
    i64.store offset=8
    local.get 2
  )
  (func (;10;) (type 6)
    global.get 2
    i64.eqz
    if ;; label = @1
      return
    end
    i32.const 1
    global.get 2
    call 1
    i64.const 0
    global.set 2
  )
  (func (;11;) (type 7) (param i64)
    call 10
    i32.const 1
    local.get 0
    call 1
    unreachable
  )
  (func (;12;) (type 8) (param i32 i32)
    (local i64 i64 i32)
    loop ;; label = @1
      local.get 0
      local.get 4
      i32.const 4
      i32.mul
      i32.add
      i64.load32_u
      local.set 3
      global.get 1
      local.get 2
      local.get 3
      i64.add
      i64.lt_s
      if ;; label = @2
        global.get 2
        local.get 2
        i64.add
        global.set 2
        local.get 3
        call 11
      end
      local.get 2
      local.get 3
      i64.add
      local.set 2
      local.get 4
      i32.const 1
      i32.add
      local.tee 4
      local.get 1
      i32.lt_u
      br_if 0 (;@1;)
    end
    unreachable
  )
  (func (;13;) (type 7) (param i64)
    global.get 1
    local.get 0
    i64.lt_s
    if ;; label = @1
      local.get 0
      call 11
    end
    global.get 1
    local.get 0
    i64.sub
    global.set 1
    global.get 2
    local.get 0
    i64.add
    global.set 2
  )
  (func (;14;) (type 8) (param i32 i32)
    i32.const 1
    global.set 3
    local.get 0
    i64.extend_i32_u
    global.set 4
    local.get 1
    i64.extend_i32_u
    global.set 5
  )
  (func (;15;) (type 9) (param i32) (result f64)
    (local i32)
    local.get 0
    i32.load
    local.tee 1
    i32.const 2
    i32.eq
    if ;; label = @1
      local.get 0
      f64.load offset=8
      return
    end
    local.get 1
    i32.const 1
    i32.eq
    if ;; label = @1
      local.get 0
      i64.load offset=8
      f64.convert_i64_u
      return
    end
    i32.const 0
    local.get 1
    call 14
    f64.const 0x0p+0 (;=0;)
  )
  (func (;16;) (type 10) (param i32) (result i32)
    (local i32)
    local.get 0
    i32.load
    local.tee 1
    i32.const 1
    i32.eq
    if ;; label = @1
      local.get 0
      i64.load offset=8
      i64.const 0
      i64.ne
      return
    end
    local.get 1
    i32.eqz
    if ;; label = @1
      i32.const 0
      return
    end
    local.get 1
    i32.const 2
    i32.eq
    if ;; label = @1
      local.get 0
      f64.load offset=8
      f64.const 0x0p+0 (;=0;)
      f64.ne
      return
    end
    i32.const 1
    local.get 1
    call 14
    i32.const 0
  )
  (func (;17;) (type 11) (param i32 i32) (result i64)
    (local i32)
    local.get 0
    i32.load
    local.tee 2
    i32.const 3
    i32.eq
    local.get 2
    i32.const 4
    i32.eq
    i32.or
    if ;; label = @1
      local.get 0
      i64.load offset=8
      return
    end
    local.get 1
    local.get 2
    call 14
    i64.const 0
  )
  (func (;18;) (type 10) (param i32) (result i32)
    (local i32)
    local.get 0
    i32.load
    local.tee 1
    i32.const 5
    i32.eq
    if ;; label = @1
      local.get 0
      i32.load offset=8
      return
    end
    i32.const 4
    local.get 1
    call 14
    i32.const 0
  )
  (func (;19;) (type 10) (param i32) (result i32)
    (local i32)
    local.get 0
    i32.load
    local.tee 1
    i32.const 6
    i32.eq
    if ;; label = @1
      local.get 0
      i32.load offset=8
      return
    end
    i32.const 5
    local.get 1
    call 14
    i32.const 0
  )
  (func (;20;) (type 12) (param i64) (result i32)
    (local i32 i32 i32 i32 i32 i32)
    global.get 9
    local.set 2
    block ;; label = @1
      loop ;; label = @2
        local.get 1
        local.get 2
        i32.ge_u
        br_if 1 (;@1;)
        local.get 1
        local.get 2
        i32.add
        i32.const 1
        i32.shr_u
        local.tee 3
        i32.const 24
        i32.mul
        global.get 8
        i32.add
        local.tee 4
        i32.load
        i64.extend_i32_u
        i64.const 32
        i64.shl
        local.get 4
        i64.load32_u offset=4
        i64.or
        local.get 0
        call 25
        local.tee 5
        i32.eqz
        if ;; label = @3
          local.get 4
          i32.load8_u offset=8
          local.tee 6
          local.get 6
          i32.const 1
          i32.eq
          if (result i64) ;; label = @4
            local.get 4
            i64.load8_u offset=16
          else
            local.get 6
            i32.const 2
            i32.eq
            if (result i64) ;; label = @5
              local.get 4
              i64.load offset=16
            else
              local.get 4
              i32.load offset=16
              i64.extend_i32_u
              i64.const 32
              i64.shl
              local.get 4
              i64.load32_u offset=20
              i64.or
            end
          end
          call 9
          return
        end
        local.get 5
        i32.const 0
        i32.lt_s
        if ;; label = @3
          local.get 3
          i32.const 1
          i32.add
          local.set 1
        else
          local.get 3
          local.set 2
        end
        br 0 (;@2;)
      end
    end
    i32.const 0
    i64.const 0
    call 9
  )
  (func (;21;) (type 13) (param i64) (result i64)
    (local i32 i32 i32)
    i32.const 20
    i32.const 1
    call 3
    local.tee 1
    i32.const 20
    i32.add
    local.set 2
    loop ;; label = @1
      local.get 2
      i32.const 1
      i32.sub
      local.tee 2
      local.get 0
      i64.const 10
      i64.rem_u
      i32.wrap_i64
      i32.const 48
      i32.add
      i32.store8
      local.get 0
      i64.const 10
      i64.div_u
      local.tee 0
      i64.eqz
      i32.eqz
      br_if 0 (;@1;)
    end
    local.get 2
    local.get 1
    i32.const 20
    i32.add
    local.get 2
    i32.sub
    local.set 3
    i64.extend_i32_u
    i64.const 32
    i64.shl
    local.get 3
    i64.extend_i32_u
    i64.or
  )
  (func (;22;) (type 14) (param i64 i64) (result i64)
    (local i32 i32 i32 i32)
    local.get 0
    i32.wrap_i64
    local.set 3
    local.get 1
    i32.wrap_i64
    local.set 4
    local.get 3
    local.get 4
    i32.add
    i32.const 1
    call 3
    local.tee 2
    local.get 0
    i64.const 32
    i64.shr_u
    i32.wrap_i64
    local.get 3
    memory.copy
    local.get 2
    local.get 3
    i32.add
    local.get 1
    i64.const 32
    i64.shr_u
    i32.wrap_i64
    local.get 4
    memory.copy
    local.get 2
    local.get 3
    local.get 4
    i32.add
    local.set 5
    i64.extend_i32_u
    i64.const 32
    i64.shl
    local.get 5
    i64.extend_i32_u
    i64.or
  )
  (func (;23;) (type 15) (param i32)
    i32.const 13
    global.set 3
    local.get 0
    i64.load8_u offset=64
    global.set 4
    local.get 0
    i64.load32_u offset=68
    i64.const 32
    i64.shl
    local.get 0
    i64.load32_u offset=72
    i64.or
    global.set 5
  )
  (func (;24;) (type 2) (param i32 i32) (result i32)
    (local i32 i32)
    local.get 1
    i32.load
    local.set 2
    block ;; label = @1
      loop ;; label = @2
        local.get 3
        local.get 2
        i32.ge_u
        br_if 1 (;@1;)
        local.get 1
        i32.const 8
        i32.add
        local.get 3
        i32.const 16
        i32.mul
        i32.add
        local.get 0
        call 8
        if ;; label = @3
          i32.const 1
          return
        end
        local.get 3
        i32.const 1
        i32.add
        local.set 3
        br 0 (;@2;)
      end
    end
    i32.const 0
  )
  (func (;25;) (type 4) (param i64 i64) (result i32)
    (local i32 i32 i32 i32 i32 i32 i32 i32)
    local.get 0
    i64.const 32
    i64.shr_u
    i32.wrap_i64
    local.set 2
    local.get 0
    i32.wrap_i64
    local.set 4
    local.get 1
    i64.const 32
    i64.shr_u
    i32.wrap_i64
    local.set 3
    local.get 1
    i32.wrap_i64
    local.set 5
    local.get 4
    local.get 5
    local.get 4
    local.get 5
    i32.lt_u
    select
    local.set 6
    block ;; label = @1
      loop ;; label = @2
        local.get 7
        local.get 6
        i32.ge_u
        br_if 1 (;@1;)
        local.get 2
        local.get 7
        i32.add
        i32.load8_u
        local.set 8
        local.get 3
        local.get 7
        i32.add
        i32.load8_u
        local.set 9
        local.get 8
        local.get 9
        i32.ne
        if ;; label = @3
          local.get 8
          local.get 9
          i32.gt_u
          local.get 8
          local.get 9
          i32.lt_u
          i32.sub
          return
        end
        local.get 7
        i32.const 1
        i32.add
        local.set 7
        br 0 (;@2;)
      end
    end
    local.get 4
    local.get 5
    i32.gt_u
    local.get 4
    local.get 5
    i32.lt_u
    i32.sub
  )
  (func (;26;) (type 16) (result i32)
    i32.const 160
    i32.const 1192
    i32.store
    i32.const 160
    i32.const 4
    i32.store offset=4
    i32.const 160
    i32.const 1196
    i32.store offset=8
    i32.const 160
    i32.const 7
    i32.store offset=12
    i32.const 160
  )
  (func (;27;) (type 17) (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (local f64 i64 i64 f64 i64 i64)
    local.get 0
    i64.extend_i32_u
    i64.const 32
    i64.shl
    local.get 1
    i64.extend_i32_u
    i64.or
    global.set 6
    local.get 2
    i64.extend_i32_u
    i64.const 32
    i64.shl
    local.get 3
    i64.extend_i32_u
    i64.or
    global.set 7
    local.get 8
    global.set 8
    local.get 9
    global.set 9
    call 0
    global.set 1
    block ;; label = @1
      block ;; label = @2
        call 10
        call 2
        f64.convert_i64_u
        global.get 1
        i64.const 1
        i64.sub
        global.set 1
        f64.const 0x0p+0 (;=0;)
        local.set 10
        local.get 10
        f64.gt
        global.get 1
        i64.const 3
        i64.lt_s
        if ;; label = @3
          i32.const 1204
          i32.const 2
          call 12
        end
        global.get 1
        i64.const 3
        i64.sub
        global.set 1
        global.get 2
        i64.const 3
        i64.add
        global.set 2
        global.get 1
        i64.const 3
        i64.lt_s
        if ;; label = @3
          i64.const 3
          call 11
        end
        global.get 1
        i64.const 3
        i64.sub
        global.set 1
        global.get 2
        i64.const 3
        i64.add
        global.set 2
        i32.eqz
        if ;; label = @3
          i64.const 5205500362768
          global.set 11
          i32.const 2
          global.set 10
          br 2 (;@1;)
        end
        i64.const 5274219839494
        call 20
        global.get 1
        i64.const 3
        i64.lt_s
        if ;; label = @3
          i32.const 1236
          i32.const 2
          call 12
        end
        global.get 1
        i64.const 3
        i64.sub
        global.set 1
        global.get 2
        i64.const 3
        i64.add
        global.set 2
        global.get 1
        i64.const 4
        i64.lt_s
        if ;; label = @3
          i64.const 4
          call 11
        end
        global.get 1
        i64.const 4
        i64.sub
        global.set 1
        global.get 2
        i64.const 4
        i64.add
        global.set 2
        call 15
        global.get 3
        if ;; label = @3
          i64.const 5342939316268
          global.set 12
          br 1 (;@2;)
        end
        i64.trunc_sat_f64_u
        local.set 11
        call 10
        call 2
        local.tee 12
        local.get 11
        i64.sub
        i64.const 0
        local.get 12
        local.get 11
        i64.gt_u
        select
        f64.convert_i64_u
        global.get 1
        i64.const 1
        i64.sub
        global.set 1
        f64.const 0x1.c2p+11 (;=3600;)
        local.set 13
        local.get 13
        f64.lt
        i64.const 5531917877261
        global.get 1
        i64.const 4
        i64.lt_s
        if ;; label = @3
          i32.const 1304
          i32.const 3
          call 12
        end
        global.get 1
        i64.const 4
        i64.sub
        global.set 1
        global.get 2
        i64.const 4
        i64.add
        global.set 2
        global.get 1
        i64.const 5
        i64.lt_s
        if ;; label = @3
          i64.const 5
          call 11
        end
        global.get 1
        i64.const 5
        i64.sub
        global.set 1
        global.get 2
        i64.const 5
        i64.add
        global.set 2
        local.set 14
        i32.eqz
        if ;; label = @3
          local.get 14
          global.set 11
          i32.const 2
          global.set 10
          br 2 (;@1;)
        end
        i32.const 1
        global.get 1
        i64.const 1
        i64.lt_s
        if ;; label = @3
          i32.const 1316
          i32.const 1
          call 12
        end
        global.get 1
        i64.const 1
        i64.sub
        global.set 1
        global.get 2
        i64.const 1
        i64.add
        global.set 2
        global.get 1
        i64.const 5
        i64.lt_s
        if ;; label = @3
          i64.const 5
          call 11
        end
        global.get 1
        i64.const 5
        i64.sub
        global.set 1
        global.get 2
        i64.const 5
        i64.add
        global.set 2
        i32.eqz
        global.set 10
        br 1 (;@1;)
        i32.const 1
        global.get 1
        i64.const 1
        i64.lt_s
        if ;; label = @3
          i32.const 1320
          i32.const 1
          call 12
        end
        global.get 1
        i64.const 1
        i64.sub
        global.set 1
        global.get 2
        i64.const 1
        i64.add
        global.set 2
        global.get 1
        i64.const 5
        i64.lt_s
        if ;; label = @3
          i64.const 5
          call 11
        end
        global.get 1
        i64.const 5
        i64.sub
        global.set 1
        global.get 2
        i64.const 5
        i64.add
        global.set 2
        i32.eqz
        global.set 10
        br 1 (;@1;)
        i32.const 4
        global.set 10
        i64.const 0
        global.set 4
        br 1 (;@1;)
      end
      i32.const 3
      global.set 10
    end
    call 10
    global.get 10
    i32.const 1
    i32.le_u
    if ;; label = @1
      i32.const 128
      i32.const 0
      i32.store8
      i32.const 128
      i32.const 0
      i32.store8 offset=4
      i32.const 128
      i32.const 0
      i32.store8 offset=8
      i32.const 128
      global.get 10
      i32.store8 offset=4
      i32.const 128
      return
    end
    global.get 10
    i32.const 2
    i32.eq
    if ;; label = @1
      i32.const 128
      i32.const 0
      i32.store8
      i32.const 128
      i32.const 1
      i32.store8 offset=4
      i32.const 128
      i32.const 0
      i32.store8 offset=8
      i32.const 128
      i32.const 1
      i32.store8 offset=8
      i32.const 128
      global.get 11
      i64.const 32
      i64.shr_u
      i64.store32 offset=12
      i32.const 128
      global.get 11
      i64.store32 offset=16
      i32.const 128
      return
    end
    i64.const 5686536699909
    local.set 15
    global.get 3
    i32.const 1
    i32.eq
    if ;; label = @1
      i64.const 5708011536393
      i32.const 1144
      global.get 4
      i32.wrap_i64
      i32.const 8
      i32.mul
      i32.add
      i64.load
      call 22
      i64.const 5746666242054
      call 22
      i32.const 1064
      global.get 5
      i32.wrap_i64
      i32.const 8
      i32.mul
      i32.add
      i64.load
      call 22
      local.set 15
    end
    global.get 3
    i32.const 2
    i32.eq
    if ;; label = @1
      i64.const 5772436045840
      local.set 15
    end
    global.get 3
    i32.const 3
    i32.eq
    if ;; label = @1
      i64.const 5841155522574
      local.set 15
    end
    global.get 3
    i32.const 5
    i32.eq
    if ;; label = @1
      i64.const 5901285064750
      i64.const 6098853560321
      call 22
      local.set 15
    end
    global.get 3
    i32.const 6
    i32.eq
    if ;; label = @1
      i64.const 6103148527655
      i64.const 6098853560321
      call 22
      local.set 15
    end
    global.get 3
    i32.const 7
    i32.eq
    if ;; label = @1
      i64.const 6270652252195
      i64.const 6098853560321
      call 22
      i64.const 6420976107529
      call 22
      i64.const 6098853560321
      call 22
      local.set 15
    end
    global.get 3
    i32.const 8
    i32.eq
    if ;; label = @1
      i64.const 6459630813196
      global.get 4
      call 21
      call 22
      i64.const 6511170420757
      call 22
      global.get 5
      call 21
      call 22
      i64.const 6601364733953
      call 22
      local.set 15
    end
    global.get 3
    i32.const 9
    i32.eq
    if ;; label = @1
      i64.const 6605659701289
      global.get 4
      call 21
      call 22
      local.set 15
    end
    global.get 3
    i32.const 10
    i32.eq
    if ;; label = @1
      i64.const 6781753360407
      local.set 15
    end
    global.get 3
    i32.const 11
    i32.eq
    if ;; label = @1
      i64.const 6880537608206
      global.get 5
      call 22
      local.set 15
    end
    global.get 3
    i32.const 12
    i32.eq
    if ;; label = @1
      i64.const 6940667150389
      i32.const 1064
      global.get 4
      i32.wrap_i64
      i32.const 8
      i32.mul
      i32.add
      i64.load
      call 22
      local.set 15
    end
    global.get 3
    i32.const 14
    i32.eq
    if ;; label = @1
      i64.const 7168300417039
      global.get 4
      call 21
      call 22
      i64.const 7232724926490
      call 22
      local.set 15
    end
    global.get 3
    i32.const 13
    i32.eq
    if ;; label = @1
      global.get 5
      local.set 15
    end
    global.get 12
    i64.eqz
    i32.eqz
    if ;; label = @1
      global.get 12
      local.get 15
      call 22
      local.set 15
    end
    global.get 10
    i32.const 4
    i32.eq
    if ;; label = @1
      i32.const 0
      global.set 3
      i64.const 7344394076176
      i32.const 1064
      global.get 4
      i32.wrap_i64
      i32.const 8
      i32.mul
      i32.add
      i64.load
      call 22
      i64.const 7413113552908
      call 22
      local.set 15
    end
    local.get 15
    global.set 11
    i32.const 128
    i32.const 1
    i32.store8
    i32.const 128
    i32.const 3
    i32.store8 offset=4
    i32.const 128
    i32.const 0
    i32.store8 offset=8
    global.get 3
    i32.const 13
    i32.eq
    if ;; label = @1
      i32.const 128
      global.get 4
      i32.wrap_i64
      i32.store8 offset=4
    end
    i32.const 128
    global.get 11
    i64.const 32
    i64.shr_u
    i64.store32 offset=8
    i32.const 128
    global.get 11
    i64.store32 offset=12
    i32.const 128
  )
  (data (;0;) (i32.const 1024) "nullboolnumberstringdidtrust_vectorarray\04\00\00\00\00\04\00\00\04\00\00\00\04\04\00\00\06\00\00\00\08\04\00\00\06\00\00\00\0e\04\00\00\03\00\00\00\14\04\00\00\0c\00\00\00\17\04\00\00\05\00\00\00#\04\00\00DIDTrustVectorArray\00\00\00\00\00\06\00\00\00\08\04\00\00\04\00\00\00\04\04\00\00\06\00\00\00\0e\04\00\00\03\00\00\00`\04\00\00\0b\00\00\00c\04\00\00\05\00\00\00n\04\00\00timeecl-1.0\00\01\00\00\00\02\00\00\00Assertion failedissued\00\00\01\00\00\00\02\00\00\00<source>:4:13: time_since(param(\22issued\22)): token expired\00\00\00\01\00\00\00\02\00\00\00\01\00\00\00\01\00\00\00\01\00\00\00errorExpected , got Division by zeroModulo by zeroSurprisal requires probability in (0, 1], got ?sqrt requires non-negative number, got clamp requires min <= max, got min  and max Array index  out of bounds (len: )TrustWeightedAvg requires 6 weights, got Weight must be a numbernot a number: str() takes a number, bool, null, string or DID, got Text too long:  bytes, the limit is 65536policy returned , not a bool\00\00\00\00\00\00")
)
