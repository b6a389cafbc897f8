@echo off
rem Environment of the fabric8/ticker image. jube inserts its lines just before the first set.
if not defined TICK_INTERVAL set "TICK_INTERVAL=1"
if not defined TICK_MESSAGE set "TICK_MESSAGE=tick"
