@echo off
rem Logs a numbered line every TICK_INTERVAL seconds, in the foreground, until stopped.
setlocal enabledelayedexpansion
cd /d "%~dp0"
call env.bat
set /a n=0
echo ticker started (every %TICK_INTERVAL%s)
:loop
set /a n+=1
echo %TICK_MESSAGE% !n! %JUBE_ARGS%
rem ping waits a second between echoes; timeout.exe refuses a redirected stdin (and wine has none).
set /a pings=TICK_INTERVAL+1
ping -n %pings% 127.0.0.1 >nul
goto loop
