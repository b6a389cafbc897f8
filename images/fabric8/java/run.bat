@echo off
rem Runs the app in the foreground.
setlocal
cd /d "%~dp0"
call env.bat
if not defined APP_BASE set "APP_BASE=%CD%"
rem gotos rather than ( ) blocks: a block line that expands to nothing ends the block early in
rem some cmd implementations (wine's among them), running the rest unconditionally.
if not defined JUBE_COMMAND goto no_command
%JUBE_COMMAND% %JUBE_ARGS%
exit /b %ERRORLEVEL%
:no_command
set "JAVA=java"
if defined JAVA_HOME if exist "%JAVA_HOME%\bin\java.exe" set "JAVA=%JAVA_HOME%\bin\java.exe"
where "%JAVA%" >nul 2>nul && goto have_java
if exist "%JAVA%" goto have_java
echo fabric8/java: no Java runtime found: install Java 11 or later ^(https://adoptium.net^) and put java on the PATH or set JAVA_HOME 1>&2
exit /b 1
:have_java
set "CP="
for %%j in ("%APP_BASE%\lib\*.jar" "%APP_BASE%\maven\*.jar") do call :add "%%~fj"
if defined JAVA_MAIN_CLASS goto main_class
if defined CP goto jar
"%JAVA%" %JAVA_OPTIONS% "%APP_BASE%\demo\Hello.java" %JAVA_ARGS% %JUBE_ARGS%
exit /b %ERRORLEVEL%
:main_class
"%JAVA%" %JAVA_OPTIONS% -cp "%CP%" %JAVA_MAIN_CLASS% %JAVA_ARGS% %JUBE_ARGS%
exit /b %ERRORLEVEL%
:jar
"%JAVA%" %JAVA_OPTIONS% -jar "%CP%" %JAVA_ARGS% %JUBE_ARGS%
exit /b %ERRORLEVEL%
:add
if defined CP (set "CP=%CP%;%~1") else (set "CP=%~1")
exit /b 0
